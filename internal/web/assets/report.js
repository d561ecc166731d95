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
