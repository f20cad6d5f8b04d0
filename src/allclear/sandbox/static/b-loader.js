/* Sandbox B's chat loader: reads the widget's configuration, and unless chat is throttled to 0%
   mounts the widget in an iframe of its own (as many vendors do). Written for allclear. */
(function () {
  "use strict";
  var app = (window.supportWidget || {}).app;
  if (!app) { console.error("support widget: no app id"); return; }
  fetch("/chat-sdk/config/" + encodeURIComponent(app) + ".json")
    .then(function (answer) { if (!answer.ok) throw new Error("HTTP " + answer.status); return answer.json(); })
    .then(function (config) {
      if (!config.throttlePercent) return;
      var frame = document.createElement("iframe");
      frame.id = "support-chat";
      frame.title = "Support chat";
      frame.src = "/assets/chat/frame/?app=" + encodeURIComponent(app);
      frame.style.cssText = "position:fixed;right:12px;bottom:12px;width:380px;height:560px;border:0;z-index:99999";
      document.body.appendChild(frame);
    })
    .catch(function (error) { console.error("support widget: configuration failed:", error.message); });
})();
