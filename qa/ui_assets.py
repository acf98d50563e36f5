"""The browser chat's stylesheet and script (passed to Gradio's launch as css= and head=).

The script only decorates what the server rendered: it turns the [n] markers of answers into
buttons and, on a click, shows the matching source card of the sources panel. It never inserts
text from answers as HTML (markers are built with createElement/textContent).
"""

from __future__ import annotations

CSS = """
#qa-header { align-items: baseline; gap: 1rem; }
#qa-brand h1 { margin: 0; font-size: 1.6rem; }
#qa-summary { color: var(--body-text-color-subdued); }
#qa-examples { flex-wrap: wrap; gap: .4rem; }
#qa-examples button.qa-example { flex: 0 1 auto; min-width: 0; font-weight: 400; }
#qa-chat .qa-cite {
  display: inline-block; border: 0; margin: 0 1px; padding: 0 .35em; cursor: pointer;
  border-radius: .6em; font-size: .78em; line-height: 1.5; vertical-align: .15em;
  background: var(--color-accent-soft); color: var(--color-accent); font-weight: 600;
}
#qa-chat .qa-cite:hover, #qa-chat .qa-cite:focus-visible {
  background: var(--color-accent); color: white; outline: none;
}
#qa-chat .qa-unsupported {
  background: #fff4d6; border-bottom: 2px dotted #d97706; color: #7c4a03;
}
.dark #qa-chat .qa-unsupported { background: #4a3710; color: #fde68a; }
/* The Sources panel scrolls on its own: beside the chat it stays in view (sticky) and is never
   taller than the window, so every card can be brought into view whatever the page around it;
   below the chat (narrow screens) it takes most of the window. */
#qa-sources { position: sticky; top: .5rem; }
#qa-sources .qa-sources { max-height: calc(100vh - 1rem); overflow-y: auto;
  overscroll-behavior: contain; }
@media (max-width: 768px) {
  #qa-sources { position: static; }
  #qa-sources .qa-sources { max-height: 75vh; }
}
.qa-sources-empty { color: var(--body-text-color-subdued); padding: 1rem; }
.qa-sources-empty .qa-cite-demo {
  background: var(--color-accent-soft); color: var(--color-accent); border-radius: .6em;
  padding: 0 .35em; font-weight: 600; font-size: .8em;
}
.qa-turn header { margin: .2rem 0 .6rem; }
.qa-turn-q { font-weight: 600; }
.qa-turn-meta { font-size: .8rem; color: var(--body-text-color-subdued); }
.qa-copy { margin-left: .4rem; font-size: .75rem; padding: .05rem .45rem; border-radius: 6px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  cursor: pointer; }
.qa-copy:hover { border-color: var(--color-accent); }
.qa-sub { font-weight: 600; margin: .4rem 0; }
details.qa-card {
  border: 1px solid var(--border-color-primary); border-radius: .6rem; margin: 0 0 .6rem;
  background: var(--block-background-fill); transition: box-shadow .3s;
}
details.qa-card > summary {
  list-style: none; cursor: pointer; display: flex; gap: .6rem; padding: .6rem .7rem;
}
details.qa-card > summary::-webkit-details-marker { display: none; }
details.qa-card[open] > summary { border-bottom: 1px solid var(--border-color-primary); }
.qa-num {
  flex: none; width: 1.6rem; height: 1.6rem; border-radius: 50%; display: grid;
  place-items: center; font-weight: 700; font-size: .8rem;
  background: var(--color-accent-soft); color: var(--color-accent);
}
.qa-card-head { display: flex; flex-direction: column; min-width: 0; }
.qa-title { font-weight: 600; line-height: 1.3; }
.qa-pub { font-size: .8rem; color: var(--body-text-color-subdued); }
.qa-quote { font-size: .85rem; font-style: italic; margin-top: .2rem; }
details.qa-card[open] .qa-quote { display: none; }
.qa-passage {
  padding: .6rem .8rem; white-space: pre-wrap; line-height: 1.55; font-size: .92rem;
  max-height: 320px; overflow-y: auto;
}
.qa-passage mark.qa-hl { background: #fde68a; color: inherit; padding: 0 .1em; border-radius: 2px; }
.dark .qa-passage mark.qa-hl { background: #854d0e; }
.qa-where { padding: 0 .8rem .6rem; font-size: .78rem; color: var(--body-text-color-subdued);
  overflow-wrap: anywhere; }
.qa-chars { margin-left: .4rem; }
.qa-warn { background: #fff4d6; color: #7c4a03; padding: .5rem .7rem; border-radius: .4rem;
  font-size: .85rem; }
.qa-note { font-size: .8rem; color: var(--body-text-color-subdued); }
details.qa-card.qa-flash { box-shadow: 0 0 0 3px var(--color-accent); }
.qa-nums { display: flex; gap: .25rem; flex: none; align-items: flex-start; }
ol.qa-cited-list { list-style: none; margin: 0; padding: .5rem .7rem 0; }
li.qa-cited { display: flex; gap: .5rem; margin-bottom: .5rem; font-size: .9rem; }
.qa-cited-body { display: flex; flex-direction: column; min-width: 0; }
.qa-cited-body .qa-where { padding: .15rem 0 0; }
li.qa-cited mark.qa-hl, .qa-reader mark.qa-hl { background: #fde68a; color: inherit;
  padding: 0 .1em; border-radius: 2px; }
.dark li.qa-cited mark.qa-hl, .dark .qa-reader mark.qa-hl { background: #854d0e; }
.qa-reader-head { padding: 0 .8rem; margin-bottom: .2rem; font-size: .85rem; }
.qa-reader { margin: 0 .8rem .6rem; padding: .5rem .7rem; white-space: pre-wrap;
  line-height: 1.55; font-size: .9rem; max-height: 45vh; overflow-y: auto;
  border: 1px solid var(--border-color-primary); border-radius: .4rem; }
.qa-ref { color: var(--color-accent); font-weight: 700; margin-left: .1rem; }
.qa-reader mark.qa-flash { outline: 3px solid var(--color-accent); }
.qa-hidden { display: none !important; }
.qa-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
table.qa-lib { width: 100%; border-collapse: collapse; font-size: .92rem; }
table.qa-lib caption { text-align: left; font-size: .8rem; color: var(--body-text-color-subdued);
  padding-bottom: .3rem; }
table.qa-lib th, table.qa-lib td { text-align: left; vertical-align: top; padding: .45rem .5rem;
  border-bottom: 1px solid var(--border-color-primary); }
table.qa-lib th { font-size: .8rem; font-weight: 600; white-space: nowrap; }
.qa-lib-title button.qa-lib-open { all: unset; cursor: pointer; font-weight: 600;
  color: var(--body-text-color); }
.qa-lib-title button.qa-lib-open:hover { text-decoration: underline; }
.qa-lib-by, .qa-lib-where { display: block; font-size: .78rem;
  color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
td.qa-lib-n { text-align: right; }
td.qa-lib-act { white-space: nowrap; }
td.qa-lib-act button { font-size: .78rem; margin-left: .3rem; padding: .1rem .5rem;
  border-radius: 6px; border: 1px solid var(--border-color-primary); cursor: pointer;
  background: var(--background-fill-primary); }
td.qa-lib-act button.qa-lib-del:hover { border-color: #dc2626; color: #dc2626; }
.qa-lib-reader { border: 1px solid var(--border-color-primary); border-radius: .6rem;
  padding: .6rem .2rem .2rem; margin-top: .6rem; }
.qa-lib-reader h3 { margin: 0 .8rem .2rem; }
.qa-lib-reader .qa-pub { margin: 0 .8rem .4rem; display: block; }
@media (max-width: 768px) {  /* a phone: each article is a card, labels beside the values */
  table.qa-lib thead { display: none; }
  table.qa-lib tr { display: block; border-bottom: 1px solid var(--border-color-primary);
    padding: .4rem 0; }
  table.qa-lib td { display: block; border: none; padding: .15rem .3rem; }
  table.qa-lib td[data-label]:not(.qa-lib-title)::before { content: attr(data-label) ": ";
    color: var(--body-text-color-subdued); font-size: .8rem; }
  td.qa-lib-n { text-align: left; }
  td.qa-lib-act button { margin: .2rem .4rem 0 0; }
}
.qa-report table { width: 100%; font-size: .85rem; border-collapse: collapse; }
.qa-report td, .qa-report th { padding: .3rem .5rem; border-bottom: 1px solid
  var(--border-color-primary); text-align: left; vertical-align: top; }
.qa-report tr.qa-st-failed td { color: #b91c1c; }
.qa-badge { display: inline-block; padding: 0 .45em; border-radius: .5em; font-size: .78rem;
  font-weight: 600; background: var(--background-fill-secondary); }
.qa-st-added .qa-badge, .qa-st-updated .qa-badge { background: #dcfce7; color: #166534; }
.qa-st-failed .qa-badge { background: #fee2e2; color: #991b1b; }
footer { visibility: visible; }
"""

JS = r"""
(() => {
  if (window.__qaCites) return;
  window.__qaCites = true;
  const MARK = /\[(\d{1,3})\]/g;

  function bots() {
    return Array.from(document.querySelectorAll('#qa-chat [data-testid="bot"]'));
  }

  function decorate() {
    bots().forEach((bot, turn) => {
      const root = bot.querySelector('.message-content') || bot;
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      const found = [];
      while (walker.nextNode()) {
        const n = walker.currentNode;
        const p = n.parentElement;
        if (!p || p.closest('.qa-cite, code, pre, a, button')) continue;
        MARK.lastIndex = 0;
        if (MARK.test(n.nodeValue)) found.push(n);
      }
      found.forEach((n) => {
        const s = n.nodeValue;
        const frag = document.createDocumentFragment();
        let last = 0;
        let m;
        MARK.lastIndex = 0;
        while ((m = MARK.exec(s))) {
          frag.append(document.createTextNode(s.slice(last, m.index)));
          const b = document.createElement('button');
          b.type = 'button';
          b.className = 'qa-cite';
          b.dataset.turn = String(turn);
          b.dataset.n = m[1];
          b.title = 'Show source ' + m[1];
          b.setAttribute('aria-label', 'Source ' + m[1]);
          b.textContent = '[' + m[1] + ']';
          frag.append(b);
          last = m.index + m[0].length;
        }
        frag.append(document.createTextNode(s.slice(last)));
        n.replaceWith(frag);
      });
    });
  }

  function showTurn(panel, turn) {
    panel.querySelectorAll('section.qa-turn').forEach((s) => {
      s.hidden = Number(s.dataset.turn) !== turn;
    });
  }

  function flash(el) {
    el.classList.remove('qa-flash');
    void el.offsetWidth;
    el.classList.add('qa-flash');
    setTimeout(() => el.classList.remove('qa-flash'), 1600);
  }

  // [n]: open the card of its article, and scroll the article's text to the cited sentence
  function showSource(turn, n) {
    const panel = document.getElementById('qa-sources');
    if (!panel) return;
    showTurn(panel, turn);
    const item = document.getElementById('qa-src-' + turn + '-' + n);
    if (!item) return;
    const card = item.closest('details.qa-card') || item;
    panel.querySelectorAll('details.qa-card[open]').forEach((d) => {
      if (d !== card) d.open = false;
    });
    if ('open' in card) card.open = true;
    flash(card);
    const mark = document.getElementById('qa-read-' + turn + '-' + n)
      || panel.querySelector('[data-also~="qa-read-' + turn + '-' + n + '"]');
    const reader = mark && mark.closest('.qa-reader');
    if (reader) {
      reader.scrollTop = mark.offsetTop - reader.offsetTop - reader.clientHeight / 3;
      flash(mark);
    }
    card.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  function copyText(text, button) {
    const done = () => {
      if (!button) return;
      const was = button.textContent;
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = was; }, 1400);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => legacyCopy(text, done));
    } else {
      legacyCopy(text, done);
    }
  }

  function legacyCopy(text, done) {
    const area = document.createElement('textarea');
    area.value = text;
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.append(area);
    area.select();
    try { document.execCommand('copy'); done(); } finally { area.remove(); }
  }

  // The answer with its numbered sources, as the Sources panel holds it for turn `turn`.
  function footnoted(turn) {
    const b = document.querySelector(
      '#qa-sources section.qa-turn[data-turn="' + turn + '"] .qa-copy[data-copy]');
    return b ? b.dataset.copy : null;
  }

  document.addEventListener('click', (ev) => {
    const t = ev.target;
    if (!(t instanceof Element)) return;
    const own = t.closest('#qa-sources .qa-copy[data-copy]');
    if (own) {
      ev.preventDefault();
      copyText(own.dataset.copy, own);
      return;
    }
    // The chat's own copy button on an answer copies it with its sources too.
    const copyBtn = t.closest('#qa-chat button');
    if (copyBtn && /copy/i.test((copyBtn.getAttribute('aria-label') || '') + ' '
                                 + (copyBtn.getAttribute('title') || ''))) {
      // its message: the last one before it in the document (the buttons follow the bubble)
      let msg = null;
      document.querySelectorAll('#qa-chat [data-testid="bot"], #qa-chat [data-testid="user"]')
        .forEach((m) => {
          if (m.compareDocumentPosition(copyBtn) & Node.DOCUMENT_POSITION_FOLLOWING) msg = m;
        });
      const isBot = msg && msg.dataset.testid === 'bot';
      const text = isBot ? footnoted(bots().indexOf(msg)) : null;
      if (text) {
        ev.preventDefault();
        ev.stopPropagation();
        copyText(text, null);
        return;
      }
    }
    const row = t.closest('#qa-library button[data-id]');
    if (row) {  // Open / Delete… of a library row: tell the server through the hidden pair
      const box = document.querySelector('#qa-lib-action textarea, #qa-lib-action input');
      const go = document.getElementById('qa-lib-go');
      if (box && go) {
        const op = row.classList.contains('qa-lib-del') ? 'delete' : 'open';
        box.value = op + ' ' + row.dataset.id;
        box.dispatchEvent(new Event('input', { bubbles: true }));
        setTimeout(() => go.click(), 50);
      }
      return;
    }
    const listed = t.closest('#qa-sources li.qa-cited[data-n]');
    if (listed) {  // a cited sentence in a card: show it in the whole article
      const sec = listed.closest('section.qa-turn');
      if (sec) showSource(Number(sec.dataset.turn), Number(listed.dataset.n));
      return;
    }
    const cite = t.closest('#qa-chat .qa-cite[data-n]');
    if (cite) {
      ev.preventDefault();
      ev.stopPropagation();
      showSource(Number(cite.dataset.turn), Number(cite.dataset.n));
      return;
    }
    const bot = t.closest('#qa-chat [data-testid="bot"]');
    const panel = document.getElementById('qa-sources');
    if (bot && panel) showTurn(panel, bots().indexOf(bot));
  }, true);

  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; decorate(); });
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();
"""
