// Turns every <form data-inlet> into an in-page submit to Inlet. No framework, no build
// step. Without this script the form still works as a plain HTML post.
(function () {
  "use strict";

  function hidden(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  function clearErrors(form) {
    form.querySelectorAll(".inlet-error").forEach(function (el) { el.remove(); });
  }

  function showError(form, field, message) {
    var target = (field && form.querySelector('[name="' + field + '"]')) || form.querySelector("button, [type=submit]");
    var note = document.createElement("div");
    note.className = "inlet-error";
    note.setAttribute("role", "alert");
    note.textContent = message;
    target.insertAdjacentElement("afterend", note);
  }

  function setup(form) {
    // The page the lead came from, with its UTM parameters (Inlet turns them into tags).
    hidden(form, "page_url", window.location.href);
    // The signed timestamp: the submission must come a few seconds after this.
    fetch(form.action.replace(/\/$/, "") + "/token", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (t) { if (t && t.ts) { hidden(form, "_inlet_ts", t.ts); } })
      .catch(function () {});

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(form);
      var data = {};
      new FormData(form).forEach(function (value, key) { data[key] = value; });
      var button = form.querySelector("button, [type=submit]");
      if (button) { button.disabled = true; }
      fetch(form.action, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(data)
      })
        .then(function (r) {
          return r.json().then(function (body) { return { ok: r.ok, body: body }; });
        })
        .then(function (result) {
          if (result.ok) {
            var thanks = document.createElement("div");
            thanks.id = "thank-you";
            thanks.setAttribute("role", "status");
            thanks.innerHTML = "<h2>Thank you!</h2><p>We have your message and will be in touch soon.</p>";
            form.replaceWith(thanks);
          } else {
            var error = (result.body && result.body.error) || {};
            showError(form, error.field, error.message || "Please check the form.");
            if (button) { button.disabled = false; }
          }
        })
        .catch(function () {
          // The network or Inlet failed: fall back to the plain post, which always works.
          form.submit();
        });
    });
  }

  document.querySelectorAll("form[data-inlet]").forEach(setup);
})();
