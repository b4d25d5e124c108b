// The nurse's "pair a tablet" dialog: a one-time code and its QR code for one patient.
// Self-contained (its own styles, texts and API call) so the dashboard can open it from any
// patient view:  import("/static/pairing.js").then((m) => m.openPairingDialog({...}))
// See docs/tablet.md.

const TEXTS = {
  da: {
    title: (name) => `Forbind tablet for ${name}`,
    intro: "Skriv koden på patientens tablet, eller scan QR-koden med tablettens kamera. Koden kan bruges én gang.",
    code: "Kode",
    qr: "QR-kode med linket til tablet-appen og koden",
    expires: (time) => `Gælder til kl. ${time}.`,
    expired: "Koden er udløbet. Lav en ny kode.",
    replaces: "En tablet, der allerede er forbundet til patienten, bliver afbrudt, når den nye forbindes.",
    again: "Ny kode",
    close: "Luk",
    failed: "Koden kunne ikke laves. Prøv igen.",
    tooMany: "Der er lavet for mange koder til denne patient den sidste time. Vent lidt.",
  },
  en: {
    title: (name) => `Pair a tablet for ${name}`,
    intro: "Type the code on the patient's tablet, or scan the QR code with the tablet's camera. The code works once.",
    code: "Code",
    qr: "QR code with the link to the tablet app and the code",
    expires: (time) => `Valid until ${time}.`,
    expired: "The code has expired. Make a new one.",
    replaces: "A tablet already paired with the patient is disconnected when the new one pairs.",
    again: "New code",
    close: "Close",
    failed: "The code could not be made. Try again.",
    tooMany: "Too many codes for this patient in the last hour. Wait a little.",
  },
};

const STYLE = `
dialog.kol-pairing { max-width: 34rem; border: 2px solid #0b3d5c; border-radius: 0.5rem;
  padding: 1.5rem; font-size: 1.1rem; line-height: 1.4; color: #111; background: #fff; }
dialog.kol-pairing::backdrop { background: rgba(0, 0, 0, 0.45); }
dialog.kol-pairing h2 { margin: 0 0 0.75rem; font-size: 1.4rem; }
dialog.kol-pairing .kol-code { font: 700 2.6rem/1.1 ui-monospace, "DejaVu Sans Mono", monospace;
  letter-spacing: 0.12em; margin: 0.5rem 0; }
dialog.kol-pairing .kol-qr svg { width: 15rem; height: 15rem; display: block; }
dialog.kol-pairing .kol-actions { display: flex; gap: 1rem; margin-top: 1rem; }
dialog.kol-pairing button { font: inherit; font-weight: 700; min-height: 48px; padding: 0.4rem 1.2rem;
  border: 2px solid #0b3d5c; border-radius: 0.4rem; background: #fff; color: #0b3d5c; cursor: pointer; }
dialog.kol-pairing button.kol-primary { background: #0b3d5c; color: #fff; }
`;

function installStyle() {
  if (document.getElementById("kol-pairing-style")) return;
  const style = document.createElement("style");
  style.id = "kol-pairing-style";
  style.textContent = STYLE;
  document.head.append(style);
}

export async function openPairingDialog({ patientId, patientName, token, lang = "da" }) {
  installStyle();
  const t = TEXTS[lang] || TEXTS.da;
  const dialog = document.createElement("dialog");
  dialog.className = "kol-pairing";
  dialog.setAttribute("aria-labelledby", "kol-pairing-title");
  dialog.innerHTML = `
    <h2 id="kol-pairing-title"></h2>
    <p class="kol-intro"></p>
    <p><span class="kol-code-label"></span></p>
    <p class="kol-code" aria-live="polite"></p>
    <div class="kol-qr" role="img"></div>
    <p class="kol-expires" aria-live="polite"></p>
    <p class="kol-replaces"></p>
    <div class="kol-actions">
      <button type="button" class="kol-again"></button>
      <button type="button" class="kol-primary kol-close"></button>
    </div>`;
  const $ = (selector) => dialog.querySelector(selector);
  $("#kol-pairing-title").textContent = t.title(patientName);
  $(".kol-intro").textContent = t.intro;
  $(".kol-code-label").textContent = t.code;
  $(".kol-qr").setAttribute("aria-label", t.qr);
  $(".kol-replaces").textContent = t.replaces;
  $(".kol-again").textContent = t.again;
  $(".kol-close").textContent = t.close;
  let timer = null;
  const close = () => { clearInterval(timer); dialog.close(); dialog.remove(); };
  $(".kol-close").addEventListener("click", close);
  dialog.addEventListener("cancel", () => clearInterval(timer));

  async function newCode() {
    clearInterval(timer);
    $(".kol-code").textContent = "";
    $(".kol-qr").replaceChildren();
    const response = await fetch(`/api/v1/patients/${patientId}/pairing`, {
      method: "POST", headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) {
      $(".kol-expires").textContent = response.status === 429 ? t.tooMany : t.failed;
      return;
    }
    const started = await response.json();
    $(".kol-code").textContent = `${started.code.slice(0, 4)} ${started.code.slice(4)}`;
    // The SVG is the platform's own (segno, server-side), not user input.
    $(".kol-qr").innerHTML = started.qr_svg;
    const svg = $(".kol-qr svg");
    if (svg) svg.setAttribute("aria-hidden", "true");
    const expires = new Date(started.expires_at);
    const time = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "da-DK",
      { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Copenhagen" }).format(expires);
    $(".kol-expires").textContent = t.expires(time);
    timer = setInterval(() => {
      if (Date.now() >= expires.getTime()) {
        clearInterval(timer);
        $(".kol-code").textContent = "";
        $(".kol-qr").replaceChildren();
        $(".kol-expires").textContent = t.expired;
      }
    }, 5000);
  }

  $(".kol-again").addEventListener("click", newCode);
  document.body.append(dialog);
  dialog.showModal();
  await newCode();
  return dialog;
}
