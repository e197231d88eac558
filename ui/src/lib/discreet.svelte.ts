// Discreet mode: amounts blurred for screen sharing or a café, remembered across starts. The
// pages mark what holds an amount with `data-sensitive`; the switch only toggles a class on the
// root, so a page added later only has to mark its amounts.
const KEY = "coldlink.discreet";

class Discreet {
  on = $state(false);

  constructor() {
    this.set(typeof localStorage !== "undefined" && localStorage.getItem(KEY) === "1");
  }

  set(on: boolean) {
    this.on = on;
    if (typeof document !== "undefined") document.documentElement.classList.toggle("discreet", on);
    if (typeof localStorage !== "undefined") localStorage.setItem(KEY, on ? "1" : "0");
  }

  toggle() {
    this.set(!this.on);
  }
}

export const discreet = new Discreet();
