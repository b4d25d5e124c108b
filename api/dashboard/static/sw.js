"use strict";
// The dashboard's service worker: shows a Web Push message as a notification and opens the
// dashboard at the alert when it is tapped. A message carries no health data: the severity, the
// team and a link that needs a login. The tag is the message's key, so a copy sent again after a
// failure replaces the notification instead of adding a second one.

self.addEventListener("push", (event) => {
  let data;
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(self.registration.showNotification(data.title || "KOL-overvågning", {
    body: data.body || "", tag: data.tag || undefined, data: { url: data.url || "/" },
    requireInteraction: true,
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});
