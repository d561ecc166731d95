// Report a problem (internal/report/reportweb): "Use my location" fills the
// form's latitude and longitude from the browser's geolocation. Without
// script, or when the person declines, the address fields are the way to
// give a location; nothing here is needed to send a report.
(function () {
  "use strict";
  if (!("geolocation" in navigator)) {
    return;
  }
  document.querySelectorAll("[data-locate]").forEach(function (button) {
    var wrap = button.closest(".portico-locate");
    var form = button.closest("form");
    var status = wrap.querySelector("[data-locate-status]");
    wrap.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = button.dataset.locating;
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lat = form.querySelector("#lat, [data-lat]");
        var lon = form.querySelector("#long, [data-long]");
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        lat.dispatchEvent(new Event("input")); // the map, if any, moves its point
        var details = form.querySelector("[data-coordinates]");
        if (details) {
          details.open = true;
        }
        status.textContent = button.dataset.located;
        if (button.hasAttribute("data-submit")) {
          form.submit();
        }
      }, function () {
        status.textContent = button.dataset.failed;
        var address = form.querySelector("#address, #zipcode");
        if (address) {
          address.focus();
        }
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  });
})();

// The report form's map (ADR 64). The page sends a hidden [data-map] box
// only when the service has an area; without script, or with no area, the
// address and the latitude and longitude fields are the way to give a
// location. The map is drawn as SVG in Web Mercator: the operator's tiles
// when configured (data-tiles, an https URL with {z}, {x} and {y}), else a
// plain grid with the area's outline, labelled as such. A click or tap sets
// the point; with the keyboard, the arrow keys move it (Shift for larger
// steps). The point is written to the latitude and longitude fields, which
// are what the form sends, and announced in a live region.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var TILE = 256;

  function mercX(lon) { return (lon + 180) / 360; }
  function mercY(lat) {
    var r = lat * Math.PI / 180;
    return (1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2;
  }
  function lonOf(x) { return x * 360 - 180; }
  function latOf(y) {
    var n = Math.PI - 2 * Math.PI * y;
    return 180 / Math.PI * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
  }
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  document.querySelectorAll("[data-map]").forEach(function (box) {
    var form = box.closest("form");
    var frame = box.querySelector("[data-map-frame]");
    var status = box.querySelector("[data-map-status]");
    var latIn = form.querySelector("#lat");
    var lonIn = form.querySelector("#long");
    var area = {
      s: parseFloat(box.dataset.south), w: parseFloat(box.dataset.west),
      n: parseFloat(box.dataset.north), e: parseFloat(box.dataset.east)
    };
    if ([area.s, area.w, area.n, area.e].some(isNaN) || !latIn || !lonIn) {
      return;
    }
    // The zoom at which the area is about 640 pixels wide, and the view:
    // the area with a margin, in pixels of that zoom.
    var span = Math.max(mercX(area.e) - mercX(area.w), mercY(area.s) - mercY(area.n));
    var z = Math.max(0, Math.min(18, Math.floor(Math.log(640 / (span * TILE)) / Math.LN2)));
    var world = TILE * Math.pow(2, z);
    var x0 = mercX(area.w) * world, x1 = mercX(area.e) * world;
    var y0 = mercY(area.n) * world, y1 = mercY(area.s) * world;
    var pad = Math.max(x1 - x0, y1 - y0) * 0.06;
    var vx = x0 - pad, vy = y0 - pad, vw = x1 - x0 + 2 * pad, vh = y1 - y0 + 2 * pad;
    var svg = el("svg", { viewBox: [vx, vy, vw, vh].join(" "), "aria-hidden": "true", focusable: "false", "class": "portico-map__svg" });
    svg.appendChild(el("rect", { x: vx, y: vy, width: vw, height: vh, "class": "portico-map__ground" }));
    var tiles = box.dataset.tiles;
    if (tiles) {
      for (var tx = Math.floor(vx / TILE); tx * TILE < vx + vw; tx++) {
        for (var ty = Math.floor(vy / TILE); ty * TILE < vy + vh; ty++) {
          var img = el("image", { x: tx * TILE, y: ty * TILE, width: TILE, height: TILE });
          img.setAttribute("href", tiles.replace("{z}", z).replace("{x}", tx).replace("{y}", ty));
          svg.appendChild(img);
        }
      }
    } else {
      // A grid of tenths of the area, so a point can be placed relative to
      // the outline; the caption says it is not a street map.
      for (var i = 1; i < 10; i++) {
        var gx = x0 + (x1 - x0) * i / 10, gy = y0 + (y1 - y0) * i / 10;
        svg.appendChild(el("line", { x1: gx, y1: vy, x2: gx, y2: vy + vh, "class": "portico-map__grid" }));
        svg.appendChild(el("line", { x1: vx, y1: gy, x2: vx + vw, y2: gy, "class": "portico-map__grid" }));
      }
    }
    svg.appendChild(el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, "class": "portico-map__area" }));
    var r = vw / 60;
    var pin = el("g", { "class": "portico-map__pin" });
    pin.appendChild(el("circle", { cx: 0, cy: 0, r: r }));
    pin.appendChild(el("line", { x1: -2 * r, y1: 0, x2: 2 * r, y2: 0 }));
    pin.appendChild(el("line", { x1: 0, y1: -2 * r, x2: 0, y2: 2 * r }));
    svg.appendChild(pin);
    frame.appendChild(svg);
    box.hidden = false;

    var point = null; // {x, y} in the view's pixels
    function draw() {
      if (!point) {
        pin.setAttribute("visibility", "hidden");
        return;
      }
      pin.setAttribute("visibility", "visible");
      pin.setAttribute("transform", "translate(" + point.x + " " + point.y + ")");
    }
    function fromFields() {
      var lat = parseFloat(latIn.value), lon = parseFloat(lonIn.value);
      point = (isNaN(lat) || isNaN(lon) || lat < -85 || lat > 85 || lon < -180 || lon > 180) ? null :
        { x: mercX(lon) * world, y: mercY(lat) * world };
      draw();
    }
    function set(p) {
      p.x = Math.min(vx + vw, Math.max(vx, p.x));
      p.y = Math.min(vy + vh, Math.max(vy, p.y));
      point = p;
      draw();
      var lat = latOf(p.y / world).toFixed(6), lon = lonOf(p.x / world).toFixed(6);
      latIn.value = lat;
      lonIn.value = lon;
      var details = form.querySelector("[data-coordinates]");
      if (details) {
        details.open = true;
      }
      status.textContent = box.dataset.set.replace("{lat}", lat).replace("{long}", lon);
    }
    frame.addEventListener("click", function (ev) {
      var ctm = svg.getScreenCTM();
      if (!ctm) {
        return;
      }
      var sp = svg.createSVGPoint();
      sp.x = ev.clientX;
      sp.y = ev.clientY;
      var p = sp.matrixTransform(ctm.inverse());
      set({ x: p.x, y: p.y });
    });
    frame.addEventListener("keydown", function (ev) {
      var step = (ev.shiftKey ? 8 : 40);
      var d = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[ev.key];
      if (!d) {
        return;
      }
      ev.preventDefault();
      var p = point ? { x: point.x, y: point.y } : { x: (x0 + x1) / 2, y: (y0 + y1) / 2 };
      if (point) {
        p.x += d[0] * (x1 - x0) / step;
        p.y += d[1] * (y1 - y0) / step;
      }
      set(p);
    });
    latIn.addEventListener("input", fromFields);
    lonIn.addEventListener("input", fromFields);
    fromFields();
  });
})();
