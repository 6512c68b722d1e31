// yarngate dashboard: refreshes the regions marked data-refresh-region while the tab is visible, and fills
// the job page's JobManager log tail from the logs API. No inline script: the Content-Security-Policy
// allows only this file. Text from the server goes into the page as parsed, escaped HTML (regions) or as
// textContent (the log), never as markup built here.
(function () {
  "use strict";

  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);

  // refresh fetches the page again and swaps each region for its new version; a 401 (signed out, cookie
  // expired) reloads the page, which then shows the sign-in form.
  function refresh() {
    var regions = document.querySelectorAll("[data-refresh-region]");
    if (regions.length === 0 || document.visibilityState !== "visible") {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (resp.status === 401) {
          window.location.reload();
          return null;
        }
        return resp.ok ? resp.text() : null;
      })
      .then(function (html) {
        if (!html) {
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        regions.forEach(function (old) {
          if (!old.id) {
            return;
          }
          var fresh = doc.getElementById(old.id);
          if (fresh) {
            old.replaceWith(document.importNode(fresh, true));
          }
        });
      })
      .catch(function () { /* the next tick tries again */ });
  }

  if (seconds > 0) {
    window.setInterval(refresh, seconds * 1000);
  }

  // The JobManager log's tail, through the logs API: the job's containers, then the JobManager's
  // jobmanager.log from 64 KiB before its end. Any answer but 200 leaves a note and the page as it is.
  var logEl = document.getElementById("log");
  var statusEl = document.getElementById("log-status");
  var reloadEl = document.getElementById("log-reload");

  function note(text) {
    if (statusEl) {
      statusEl.textContent = text;
      statusEl.hidden = false;
    }
  }

  // pickFile finds jobmanager.log among the JobManager containers (the last listed: the current attempt).
  function pickFile(containers) {
    var pick = null;
    containers.forEach(function (c) {
      if (c.role !== "jobmanager") {
        return;
      }
      (c.files || []).forEach(function (f) {
        if (f.name === "jobmanager.log") {
          pick = { container: c.containerId, file: f.name };
        }
      });
    });
    return pick;
  }

  function loadLog() {
    if (!logEl) {
      return;
    }
    var base = logEl.getAttribute("data-logs-url");
    note("Loading the tail of jobmanager.log…");
    fetch(base, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("the logs API answered " + resp.status);
        }
        return resp.json();
      })
      .then(function (list) {
        var pick = pickFile((list && list.containers) || []);
        if (!pick) {
          throw new Error("no JobManager log is listed");
        }
        var url = base + "/" + encodeURIComponent(pick.container) + "/" + encodeURIComponent(pick.file) + "?offset=-65536";
        return fetch(url, { credentials: "same-origin" }).then(function (resp) {
          if (!resp.ok) {
            throw new Error("the logs API answered " + resp.status);
          }
          return resp.text().then(function (text) { return { pick: pick, text: text }; });
        });
      })
      .then(function (res) {
        logEl.textContent = res.text;
        logEl.hidden = false;
        logEl.scrollTop = logEl.scrollHeight;
        note(res.pick.file + " of " + res.pick.container + " (last 64 KiB)");
      })
      .catch(function (err) {
        logEl.hidden = true;
        note("The log is not available: " + err.message + ".");
      });
  }

  if (reloadEl) {
    reloadEl.addEventListener("click", loadLog);
  }
  loadLog();
})();
