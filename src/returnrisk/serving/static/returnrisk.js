/*! returnrisk size-advice widget — MIT licence — https://github.com/returnrisk/returnrisk
 *
 * <script async src="https://YOUR-RETURNRISK-HOST/widget/returnrisk.js"></script>
 * <returnrisk-size-advice product-id="P000123" lang="fr" customer-token="…"></returnrisk-size-advice>
 *
 * Shows the recommended size (for a logged-in customer), the product's fit message and a fit
 * hint per size. Shows nothing at all when the service is slow (no answer within 800 ms), down
 * or answers an error. No dependency, no cookie, no storage; fetches never delay the page's load
 * event. Attributes: product-id (required), lang (en|fr; default: the page's), customer-token
 * (an HS256 JWT signed by the shop's backend), api-base (default: where this script came from),
 * timeout (ms, at most 800), size-select (CSS selector of the shop's size picker: the size then
 * picked is counted), events="off" (count nothing). Counts go to POST /v1/events (product, size,
 * event; nothing about the shopper). Theme it with CSS custom properties (--returnrisk-*).
 */
(function () {
  "use strict";
  if (typeof window === "undefined" || !window.customElements || !window.fetch ||
      window.customElements.get("returnrisk-size-advice")) return;

  var script = document.currentScript;
  var DEFAULT_BASE = "";
  try { if (script && script.src) DEFAULT_BASE = new URL("..", script.src).href.replace(/\/$/, ""); } catch (e) { /* keep "" */ }
  var MAX_WAIT = 800;

  var TEXT = {
    en: { title: "Size advice", forYou: "Recommended size for you:", sizes: "Fit by size",
          too_small: "often too small", too_large: "often too large", fits: "true to size" },
    fr: { title: "Conseil taille", forYou: "Taille conseillée pour vous :", sizes: "Ajustement par taille",
          too_small: "souvent trop petit", too_large: "souvent trop grand", fits: "taille normalement" }
  };

  var STYLE =
    ":host{display:block;font:var(--returnrisk-font,inherit);color:var(--returnrisk-color,inherit)}" +
    ".rr:not(:empty){margin:var(--returnrisk-margin,.75em 0);padding:var(--returnrisk-padding,.75em 1em);" +
    "background:var(--returnrisk-background,#f6f7f9);border:var(--returnrisk-border,1px solid #d9dde3);" +
    "border-radius:var(--returnrisk-radius,6px)}" +
    "p{margin:0 0 .4em}.title{font-weight:600;color:var(--returnrisk-accent,inherit)}" +
    ".rec strong{color:var(--returnrisk-accent,#1a5fb4)}" +
    "ul{list-style:none;margin:.4em 0 0;padding:0;display:flex;flex-wrap:wrap;gap:.35em .9em}" +
    "li{white-space:nowrap}.size{font-weight:600;margin-right:.3em}" +
    ".too_small{color:var(--returnrisk-small-color,#a04900)}.too_large{color:var(--returnrisk-large-color,#8a2be2)}" +
    ".fits{color:var(--returnrisk-fits-color,#2b7a3d)}.mine .size{text-decoration:underline}";

  function languageOf(el) {
    var lang = el.getAttribute("lang") || (el.closest && el.closest("[lang]") && el.closest("[lang]").getAttribute("lang")) || "en";
    return String(lang).toLowerCase().indexOf("fr") === 0 ? "fr" : "en";
  }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    return n;
  }

  class SizeAdvice extends HTMLElement {
    static get observedAttributes() { return ["product-id", "lang", "customer-token"]; }
  }

  SizeAdvice.prototype.connectedCallback = function () {
    try {
      if (!this.shadowRoot) {
        var root = this.attachShadow({ mode: "open" });
        root.appendChild(node("style", null, STYLE));
        // the live region exists (empty, invisible) before the answer, so that filling it is announced
        this._box = node("div", "rr");
        this._box.setAttribute("role", "status");
        this._box.setAttribute("aria-live", "polite");
        this._box.setAttribute("part", "box");
        root.appendChild(this._box);
      }
      this._load();
    } catch (e) { /* never break the page */ }
  };

  SizeAdvice.prototype.disconnectedCallback = function () {
    if (this._abort) this._abort.abort();
  };

  SizeAdvice.prototype.attributeChangedCallback = function (name, before, after) {
    if (before !== after && this._box) { try { this._load(); } catch (e) { /* never break the page */ } }
  };

  SizeAdvice.prototype._base = function () {
    return (this.getAttribute("api-base") || DEFAULT_BASE).replace(/\/$/, "");
  };

  SizeAdvice.prototype._load = function () {
    var self = this, product = this.getAttribute("product-id");
    if (this._abort) this._abort.abort();
    this._clear();
    if (!product) return;
    var lang = languageOf(this), token = this.getAttribute("customer-token");
    var wait = Math.min(MAX_WAIT, parseInt(this.getAttribute("timeout"), 10) || MAX_WAIT);
    var abort = this._abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, wait);
    var headers = { "Accept": "application/json" };
    if (token) headers["X-Customer-Token"] = token;
    fetch(this._base() + "/v1/products/" + encodeURIComponent(product) + "/size-advice?lang=" + lang,
          { headers: headers, credentials: "omit", mode: "cors", signal: abort.signal })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (advice) {
        clearTimeout(timer);
        if (abort.signal.aborted || !advice || !Array.isArray(advice.sizes)) return;
        self._render(advice, TEXT[lang]);
        self._report("shown", advice.recommended_size || null);
        self._watch(product);
      })
      .catch(function () { clearTimeout(timer); self._clear(); });
  };

  SizeAdvice.prototype._clear = function () {
    if (this._box) while (this._box.firstChild) this._box.removeChild(this._box.firstChild);
  };

  SizeAdvice.prototype._render = function (advice, t) {
    var box = this._box, frag = document.createDocumentFragment();
    this._sizes = advice.sizes.map(function (o) { return o.size; });
    frag.appendChild(node("p", "title", t.title));
    if (advice.recommended_size) {
      var rec = node("p", "rec", t.forYou + " ");
      rec.appendChild(node("strong", null, advice.recommended_size));
      frag.appendChild(rec);
    }
    if (advice.message) frag.appendChild(node("p", "message", advice.message));
    if (advice.sizes.length) {
      var list = node("ul", "sizes");
      list.setAttribute("aria-label", t.sizes);
      advice.sizes.forEach(function (o) {
        var hint = t[o.fit_hint] ? o.fit_hint : "fits";
        var item = node("li", o.size === advice.recommended_size ? "mine" : null);
        item.appendChild(node("span", "size", o.size));
        item.appendChild(node("span", "hint " + hint, t[hint]));
        item.setAttribute("data-size", o.size);
        item.setAttribute("data-hint", hint);
        list.appendChild(item);
      });
      frag.appendChild(list);
    }
    this._clear();
    box.appendChild(frag);
    this.setAttribute("data-state", "shown");
  };

  SizeAdvice.prototype._report = function (event, size) {
    if (this.getAttribute("events") === "off") return;
    try {
      fetch(this._base() + "/v1/events", {
        method: "POST", credentials: "omit", mode: "cors", keepalive: true,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ product_id: this.getAttribute("product-id"), event: event, size: size })
      }).catch(function () { /* counting is best effort */ });
    } catch (e) { /* never break the page */ }
  };

  SizeAdvice.prototype._watch = function (product) {
    var selector = this.getAttribute("size-select"), self = this, picker = null;
    if (!selector || this._watching === selector) return;
    try { picker = document.querySelector(selector); } catch (e) { return; }
    if (!picker) return;
    this._watching = selector;
    picker.addEventListener("change", function (e) {
      var value = e.target && e.target.value;
      if (value && self.getAttribute("product-id") === product && self._sizes && self._sizes.indexOf(value) >= 0) {
        self._report("size_selected", String(value));
      }
    });
  };

  window.customElements.define("returnrisk-size-advice", SizeAdvice);
})();
