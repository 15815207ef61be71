"use strict";
// The 403 page: drop the key that was refused, so the screen asks for another one.
document.getElementById("forget-key").addEventListener("click", () => {
  Telco.forget();
  location.replace("/" + document.body.dataset.screen);
});
