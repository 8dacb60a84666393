import type { ComponentChildren } from 'preact';
import { useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api.js';

const focusableSelector = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog on the native <dialog> (showModal makes the rest of the page inert); Tab and Shift+Tab cycle
 * inside it, Escape closes it, and focus returns to where it was.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; className?: string; describedBy?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;

  // Layout effects: Preact runs their cleanup while the dialog is still in the page (passive cleanups wait until after
  // paint, when the open dialog is gone and focus has already fallen back to <body>).
  useLayoutEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector<HTMLElement>('[data-autofocus]') ?? dialog.querySelector<HTMLElement>(focusableSelector);
    first?.focus();
    return () => {
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      onClose.current();
      return;
    }
    if (event.key !== 'Tab') return;
    const items = [...ref.current!.querySelectorAll<HTMLElement>(focusableSelector)].filter((element) => element.offsetParent !== null || element === document.activeElement);
    if (items.length === 0) return;
    const first = items[0]!;
    const last = items[items.length - 1]!;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <dialog
      ref={ref}
      class={`dialog ${props.className ?? ''}`}
      aria-labelledby={headingId}
      aria-describedby={props.describedBy}
      onKeyDown={onKeyDown}
      onCancel={(event) => {
        event.preventDefault();
        onClose.current();
      }}
    >
      <h2 id={headingId}>{props.title}</h2>
      {props.children}
    </dialog>
  );
}

/** "Are you sure?" with Confirm and Cancel; the action's error shows in the dialog. */
export function ConfirmDialog(props: { title: string; message: ComponentChildren; confirmLabel?: string; danger?: boolean; onConfirm: () => Promise<void>; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const messageId = useId();
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (failure) {
      setError(messageOf(failure));
      setBusy(false);
    }
  };
  return (
    <Dialog title={props.title} onClose={props.onClose} describedBy={messageId}>
      <div id={messageId} class="dialog-message">
        {props.message}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="dialog-actions">
        <button type="button" class={props.danger ? 'button danger' : 'button primary'} onClick={confirm} disabled={busy} data-autofocus>
          {props.confirmLabel ?? 'Confirm'}
        </button>
        <button type="button" class="button" onClick={props.onClose} disabled={busy}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

/** The signing secret, shown once: a read-only box, Copy and Done. */
export function SecretDialog(props: { secret: string; note?: string; onClose: () => void }) {
  const inputId = useId();
  const [copied, setCopied] = useState<string>('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied('Copied to the clipboard.');
    } catch {
      const input = document.getElementById(inputId) as HTMLInputElement | null;
      input?.select();
      const done = document.execCommand?.('copy');
      setCopied(done ? 'Copied to the clipboard.' : 'Select the secret and copy it with your keyboard.');
    }
  };
  return (
    <Dialog title="Signing secret" onClose={props.onClose} className="secret-dialog">
      <p>Copy this secret now and store it with your receiver: Herald will not show it again. Your receiver uses it to check each webhook's signature.</p>
      {props.note && <p class="muted">{props.note}</p>}
      <label for={inputId}>Signing secret</label>
      <div class="secret-row">
        <input id={inputId} type="text" readOnly value={props.secret} class="mono" onFocus={(event) => (event.currentTarget as HTMLInputElement).select()} />
        <button type="button" class="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p class="muted" role="status" aria-live="polite">
        {copied}
      </p>
      <div class="dialog-actions">
        <button type="button" class="button primary" onClick={props.onClose} data-autofocus>
          Done
        </button>
      </div>
    </Dialog>
  );
}
