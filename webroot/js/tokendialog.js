// The "API token needed" dialog and the header's token button. The dialog opens when the server
// refuses a request for want of the token (auth.js asks through `prompt`), stays open while the
// request is sent again with the token, and closes once the server took it; a refused token brings
// it back with "Token refused". Native <dialog>: the page behind is inert, Escape cancels, focus
// returns to where it was.

import { byId, setText, setAttr, setBusy, announce } from './dom.js';

export class TokenDialog {
  constructor({ access, onForget = () => {}, onEnter = () => {} }) {
    this.access = access;
    this.dialog = byId('token-dialog');
    this.form = byId('token-form');
    this.input = byId('token-input');
    this.error = byId('token-error');
    this.status = byId('token-status');
    this.save = byId('token-save');
    this.cancelButton = byId('token-cancel');
    this.button = byId('token-button');
    this.resolve = null;
    this.opener = null;
    this.locked = false;

    access.prompt = (opts) => this.ask(opts);
    access.addEventListener('accepted', () => this.finish('The API token was accepted.'));
    access.addEventListener('unchecked', () => {
      if (!this.dialog.open || this.resolve) return;
      this.showError('The Hoist server could not be reached to check the token. Try again when it is back.');
      this.ready();
    });
    access.addEventListener('change', () => this.renderButton());

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.cancelButton.addEventListener('click', () => this.cancel());
    // Escape closes a modal <dialog> by itself: count it as Cancel.
    this.dialog.addEventListener('close', () => {
      if (this.dialog.open) return; // opened again since
      if (this.resolve) this.cancel();
      this.input.value = '';
    });
    this.button.addEventListener('click', () => {
      if (this.access.verified()) {
        this.access.forget();
        announce('The API token was forgotten. The page asks for it when the server needs it.');
        onForget();
      } else {
        this.access.allowAsking();
        onEnter();
      }
    });
    this.renderButton();
  }

  /** For auth.js: resolves to the token the user saves, or null on Cancel. */
  ask({ refused = false } = {}) {
    if (this.resolve) this.resolve(null); // a question still open is superseded by this one
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.ready();
      if (refused) {
        this.showError('Token refused: the server did not accept this token. Check it and try again.');
        this.input.value = '';
      } else {
        this.showError('');
      }
      if (!this.dialog.open) {
        this.opener = document.activeElement;
        this.input.value = '';
        this.dialog.showModal();
      }
      this.input.focus();
    });
  }

  submit() {
    const token = this.input.value.trim();
    if (!this.resolve) return; // already being checked
    if (!token) {
      this.showError('Enter the API token, or press Cancel.');
      this.input.focus();
      return;
    }
    const resolve = this.resolve;
    this.resolve = null;
    setBusy(this.save, true);
    setText(this.status, 'Checking the token…');
    resolve(token);
  }

  cancel() {
    const resolve = this.resolve;
    this.resolve = null;
    if (this.dialog.open) this.dialog.close();
    this.restoreFocus();
    if (resolve) resolve(null);
  }

  finish(message) {
    if (!this.dialog.open || this.resolve) return;
    this.dialog.close();
    this.restoreFocus();
    announce(message);
  }

  ready() {
    setBusy(this.save, false);
    setText(this.status, '');
  }

  showError(message) {
    setText(this.error, message);
    setAttr(this.input, 'aria-invalid', message ? 'true' : null);
  }

  restoreFocus() {
    const el = this.opener;
    this.opener = null;
    if (el && el.isConnected && typeof el.focus === 'function' && el !== document.body) el.focus();
  }

  /** The store's mode, so "Enter API token" shows while the page is locked out. */
  setLocked(locked) {
    this.locked = locked;
    this.renderButton();
  }

  renderButton() {
    const stored = !!this.access.verified();
    const show = stored || this.locked;
    this.button.hidden = !show;
    setText(this.button.querySelector('.label'), stored ? 'Forget API token' : 'Enter API token');
    setAttr(this.button, 'title', stored
      ? 'This tab keeps the API token until it closes. Forget it now.'
      : 'This Hoist server needs its API token.');
  }
}
