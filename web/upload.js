// upload.js - choosing the file: a file picker (a real, focusable
// <input type="file"> whose label is the drop zone, so Tab, Enter and Space
// work) and drag and drop onto the zone or anywhere on the page; shows an
// image's preview (a mesh, which goes to repair, has none here).

export function initUpload({ input, zone, preview, previews, caption, isMesh }, onFile) {
  let url = null;
  const take = (file) => {
    if (!file) return;
    if (url) URL.revokeObjectURL(url);
    url = null;
    if (isMesh?.(file)) {
      preview.removeAttribute('src');
      previews.hidden = true;
    } else {
      url = URL.createObjectURL(file);
      preview.src = url;
      caption.textContent = `${file.name} (${Math.max(1, Math.round(file.size / 1024))} KB)`;
      previews.hidden = false;
    }
    onFile(file);
  };
  input.addEventListener('change', () => take(input.files[0]));
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
    // a file dropped anywhere on the page is taken too, not opened by the browser
    document.addEventListener(type, (e) => {
      if (e.dataTransfer?.types?.includes('Files')) e.preventDefault();
    });
  }
  for (const type of ['dragleave', 'dragend']) zone.addEventListener(type, () => zone.classList.remove('over'));
  document.addEventListener('drop', (e) => {
    if (!e.dataTransfer?.files?.length) return;
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer.files[0]);
  });
}
