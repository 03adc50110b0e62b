// errors.js - errors shown in plain words next to the control they concern:
// the message goes into the control's error line (<p id="<control>-error">,
// aria-live, so it is read out) and the control is marked aria-invalid.

// The sentence a person reads for a server error (ApiError of api.js);
// mesh: the request was a mesh's repair, not an image's.
export function plainWords(err, mesh = false) {
  if (err?.name === 'AbortError') return '';
  if (err?.status === 429) {
    const s = err.retryAfter;
    return `The server is busy with other models. Please try again ${s ? `in ${s} second${s === 1 ? '' : 's'}` : 'in a moment'}.`;
  }
  if (err?.status === 413) return `This file is too large. ${sentence(err.message)}`;
  if (err?.status === 415) return `This file is not a PNG, JPEG or WebP image. ${sentence(err.message)}`;
  if (err?.status === 400 && mesh) return `This file could not be repaired as a mesh. ${sentence(err.message)}`;
  if (err?.status === 400) return `This file could not be read as a PNG, JPEG or WebP image. ${sentence(err.message)}`;
  if (err?.status === 503) return 'The server is shutting down. Please try again shortly.';
  if (err?.status === 507) return `This ${mesh ? 'repair' : 'model'} needs more memory than the server has. Try a lower quality.`;
  if (err instanceof TypeError) return 'The server could not be reached. Is it still running?';
  return sentence(err?.message || 'Something went wrong.');
}

function sentence(s) {
  const t = String(s || '').trim();
  if (!t) return '';
  const c = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(c) ? c : `${c}.`;
}

export function showError(id, message) {
  const line = document.getElementById(`${id}-error`);
  const control = document.getElementById(id);
  if (line) line.textContent = message;
  if (control) control.setAttribute('aria-invalid', message ? 'true' : 'false');
}

export function clearError(id) {
  showError(id, '');
}
