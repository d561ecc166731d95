// Portico site-specific JavaScript, loaded after uswds/js/uswds.min.js.
//
// Pages work without JavaScript; this file may only add progressive
// enhancements. Inline <script> blocks and on* attributes are forbidden by the
// Content-Security-Policy (script-src 'self'), so behaviour belongs here.
"use strict";

// Passkeys (WebAuthn). Buttons marked data-passkey="register" or
// data-passkey="signin" stay hidden unless the browser supports passkeys.
// The server speaks JSON at POST <data-begin> and <data-finish>; errors come
// back as problem+json whose "detail" is already in the page's language.
(function () {
  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(pk) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(pk);
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.user.id = b64urlToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return pk;
  }
  function requestOptions(pk) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(pk);
    pk.challenge = b64urlToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return pk;
  }
  function credentialJSON(cred) {
    if (cred.toJSON) return cred.toJSON();
    var r = cred.response, out = { id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type, response: { clientDataJSON: bufToB64url(r.clientDataJSON) } };
    if (r.attestationObject) out.response.attestationObject = bufToB64url(r.attestationObject);
    if (r.authenticatorData) out.response.authenticatorData = bufToB64url(r.authenticatorData);
    if (r.signature) out.response.signature = bufToB64url(r.signature);
    if (r.userHandle) out.response.userHandle = bufToB64url(r.userHandle);
    return out;
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().then(function (j) {
        if (!res.ok) { var e = new Error(j.detail || res.statusText); e.problem = j; throw e; }
        return j;
      });
    });
  }
  function run(button) {
    var box = document.getElementById(button.getAttribute("data-error"));
    var show = function (msg) { if (box) { box.querySelector(".usa-alert__text").textContent = msg; box.hidden = false; box.focus(); } };
    var register = button.getAttribute("data-passkey") === "register";
    var nameInput = document.getElementById("passkey_name");
    button.disabled = true;
    post(button.getAttribute("data-begin")).then(function (begin) {
      var pk = begin.options.publicKey;
      var call = register
        ? navigator.credentials.create({ publicKey: creationOptions(pk) })
        : navigator.credentials.get({ publicKey: requestOptions(pk) });
      return call.then(function (cred) {
        return post(button.getAttribute("data-finish"), {
          ceremony: begin.ceremony, credential: credentialJSON(cred),
          name: nameInput ? nameInput.value : "", next: button.getAttribute("data-next") || ""
        });
      });
    }).then(function (done) {
      window.location.assign(done.redirect);
    }).catch(function (err) {
      button.disabled = false;
      if (err.problem && err.problem.instance && err.problem.code === "forbidden") { window.location.assign(err.problem.instance); return; }
      show(err.problem ? err.problem.detail : button.getAttribute("data-cancelled"));
    });
  }
  if (!window.PublicKeyCredential || !window.fetch) return;
  document.querySelectorAll("[data-passkey]").forEach(function (el) {
    var wrap = el.closest("[data-passkey-wrap]");
    if (wrap) wrap.hidden = false;
    el.hidden = false;
    el.addEventListener("click", function (ev) { ev.preventDefault(); run(el); });
  });
})();

// Copy buttons: <button data-copy="INPUT-ID" data-copy-status="STATUS-ID"
// data-copied="MESSAGE" hidden> copies the input's value; it stays hidden
// where the Clipboard API is missing (the input is readonly and selectable).
(function () {
  if (!navigator.clipboard || !window.isSecureContext) return;
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      var status = document.getElementById(button.getAttribute("data-copy-status"));
      navigator.clipboard.writeText(input.value).then(function () {
        if (status) status.textContent = button.getAttribute("data-copied");
      }, function () {
        input.select();
      });
    });
  });
})();

// Error summary: a page sent back with mistakes moves focus to its summary
// (id="error-summary", tabindex="-1", from the layout), so keyboard and
// screen reader users start at the list of what to fix (USWDS, GOV.UK
// error summary pattern). Its links then move to each field.
(function () {
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();

// File inputs: USWDS's script writes the drop zone's words in English
// ("Drag file here or choose from folder", "Selected file", "Change
// file"). An input that carries the page's own words (data-drag-text,
// data-choose-text, data-choose-alone-text, data-selected-text,
// data-change-text) gets them back, whenever USWDS redraws. Its accessible
// name comes from its label (aria-labelledby), not from these words.
(function () {
  function localize(input) {
    var d = input.dataset;
    var target = input.closest(".usa-file-input__target");
    if (!target || !d.chooseText) return;
    function set(el, text) {
      if (el && text && el.textContent !== text) el.textContent = text;
    }
    function apply() {
      var drag = target.querySelector(".usa-file-input__instructions .usa-file-input__drag-text");
      set(drag, d.dragText);
      set(target.querySelector(".usa-file-input__instructions .usa-file-input__choose"), drag ? d.chooseText : d.chooseAloneText);
      var heading = target.querySelector(".usa-file-input__preview-heading");
      if (heading && heading.firstChild && heading.firstChild.nodeType === 3 && d.selectedText) {
        if (heading.firstChild.nodeValue !== d.selectedText + " ") heading.firstChild.nodeValue = d.selectedText + " ";
      }
      set(heading && heading.querySelector(".usa-file-input__choose"), d.changeText);
    }
    apply();
    new MutationObserver(apply).observe(target, { childList: true, subtree: true, characterData: true });
  }
  function init() {
    document.querySelectorAll("input.usa-file-input__input[data-choose-text]").forEach(localize);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

// Print buttons ([data-print]) are hidden in the markup and shown here:
// without JavaScript the page offers its PDF to print instead.
(function () {
  var buttons = document.querySelectorAll("[data-print]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function () { window.print(); });
  }
})();
