// Progressive enhancement of the delivery page: drag and drop onto the file field, and the
// upload's outcome shown on the same page while it is checked. Without JavaScript the forms
// post as they are and the delivery's own page shows the outcome.
(function () {
  "use strict";
  function show(section, id) {
    var box = section.querySelector(".outcome");
    box.hidden = false;
    fetch("/deliveries/" + encodeURIComponent(id) + "/outcome", {credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        box.innerHTML = html;  // rendered and escaped by the server
        var result = box.querySelector(".result");
        if (result && result.getAttribute("data-final") !== "yes") {
          setTimeout(function () { show(section, id); }, 1000);
        }
      });
  }
  document.querySelectorAll("form.upload").forEach(function (form) {
    var drop = form.querySelector(".drop");
    var input = form.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var section = form.closest("section");
      var box = section.querySelector(".outcome");
      box.hidden = false;
      box.textContent = "Skickar … / Sending …";
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (r) {
        return r.json().then(function (body) { return {status: r.status, body: body}; });
      }).then(function (answer) {
        if (answer.status !== 202) {
          box.innerHTML = "";
          var p = document.createElement("p");
          p.className = "notice error";
          p.textContent = answer.body.error || ("HTTP " + answer.status);
          box.appendChild(p);
          return;
        }
        show(section, answer.body.id);
      }).catch(function () { form.submit(); });
    });
  });
})();
