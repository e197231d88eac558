// The app's sections, in navigation order. The id is also the URL hash and the e2e test's key.
export const sections = [
  { id: "portfolio", title: "Portfolio" },
  { id: "accounts", title: "Accounts" },
  { id: "devices", title: "Devices" },
  { id: "send", title: "Send" },
  { id: "receive", title: "Receive" },
  { id: "compare", title: "Compare devices" },
  { id: "settings", title: "Settings" },
] as const;

export type SectionId = (typeof sections)[number]["id"];

export function sectionFromHash(hash: string): SectionId {
  const id = hash.replace(/^#\/?/, "");
  return sections.find((s) => s.id === id)?.id ?? "portfolio";
}
