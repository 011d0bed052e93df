// Rapport staff console: keyboard shortcuts and their help overlay. No inline scripts (the CSP forbids them);
// everything also works without this file. Keys: j/k next/previous task, 1-5 outcomes, n note, ? help.
(function () {
  'use strict';
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
  }
  function helpDialog() {
    var d = document.getElementById('help');
    if (d) return d;
    d = document.createElement('dialog');
    d.id = 'help';
    d.setAttribute('aria-labelledby', 'help-title');
    d.innerHTML =
      '<h2 id="help-title">Keyboard shortcuts</h2><dl>' +
      '<dt><kbd>j</kbd></dt><dd>Next task</dd><dt><kbd>k</kbd></dt><dd>Previous task</dd>' +
      '<dt><kbd>1</kbd>–<kbd>5</kbd></dt><dd>Record an outcome (reached, voicemail, no answer, wrong number, complaint)</dd>' +
      '<dt><kbd>n</kbd></dt><dd>Write a note</dd><dt><kbd>/</kbd></dt><dd>Find a customer</dd>' +
      '<dt><kbd>?</kbd></dt><dd>Show this help</dd><dt><kbd>Esc</kbd></dt><dd>Close it</dd></dl>' +
      '<form method="dialog"><button type="submit">Close</button></form>';
    document.body.appendChild(d);
    return d;
  }
  function click(selector) {
    var el = document.querySelector(selector);
    if (el) {
      el.click();
      return true;
    }
    return false;
  }
  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var k = e.key;
    var done = false;
    if (k === '?') {
      var d = helpDialog();
      if (!d.open) d.showModal();
      done = true;
    } else if (k === 'j') done = click('[data-key="next"]');
    else if (k === 'k') done = click('[data-key="previous"]');
    else if (k === 'n') {
      var note = document.querySelector('[data-key="note"]');
      if (note) {
        note.focus();
        done = true;
      }
    } else if (k === '/') {
      var q = document.querySelector('input[type="search"]');
      if (q) {
        q.focus();
        done = true;
      } else {
        window.location.href = '/console/customers';
        done = true;
      }
    } else if (/^[1-5]$/.test(k)) done = click('[data-key="outcome-' + k + '"]');
    if (done) e.preventDefault();
  });
})();

// "Copy the link" buttons: shown only when the script runs (without it, the field can be selected and copied). After
// htmx swaps the page's main part, the new buttons are set up and focus moves to the new content for screen readers.
(function () {
  'use strict';
  function setUp(root) {
    var buttons = root.querySelectorAll('[data-copy]:not([data-ready])');
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      b.hidden = false;
      b.setAttribute('data-ready', '');
      b.addEventListener('click', function (e) {
        var field = document.getElementById(e.currentTarget.getAttribute('data-copy'));
        var button = e.currentTarget;
        if (!field) return;
        field.select();
        var done = function () {
          button.textContent = 'Copied';
        };
        if (window.navigator.clipboard) window.navigator.clipboard.writeText(field.value).then(done, done);
      });
    }
  }
  setUp(document);
  document.addEventListener('htmx:afterSettle', function (e) {
    setUp(document);
    // A live part of the page refreshing itself (an import's progress) leaves the focus where the reader put it.
    var from = e.detail && e.detail.elt;
    if (from && from.closest && from.closest('[data-live]')) return;
    if (e.target && e.target.closest && e.target.closest('[data-live]')) return;
    var main = document.getElementById('main');
    if (main) main.focus();
  });
})();
