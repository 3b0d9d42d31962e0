// The kiosk page: a photo from the camera or a file goes to POST /v1/look; the answer is drawn
// as boxes on the photo and a row of product cards per article. No external resources.
"use strict";
const $ = (id) => document.getElementById(id);
const COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#0082c8", "#f58230", "#911eb4",
                 "#46f0f0", "#f032e6", "#d2f53c", "#fabebe", "#008080", "#aa6e28"];
const colourOf = (() => { const seen = {}; return (c) => (seen[c] ??= COLOURS[Object.keys(seen).length % COLOURS.length]); })();

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function showCatalog() {
  try {
    const response = await fetch("/v1/catalog");
    const info = await response.json();
    $("catalog").textContent = response.ok ? `${info.total} products in the catalog` : "no catalog";
  } catch (e) { $("catalog").textContent = ""; }
}

function drawLook(bitmap, look) {
  const canvas = $("photo");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const line = Math.max(2, Math.round(Math.max(bitmap.width, bitmap.height) / 250));
  ctx.font = `${line * 7}px system-ui, sans-serif`;
  for (const article of look.articles) {
    const [x0, y0, x1, y1] = article.box;
    ctx.strokeStyle = ctx.fillStyle = colourOf(article.category);
    ctx.lineWidth = line;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillText(article.category, x0 + line, y0 + line * 8);
  }
}

function swatch(colour) {
  const span = document.createElement("span");
  span.className = "swatch";
  if (colour) {
    span.style.background = colour.hex;
    span.title = `colour ${colour.hex}`;
  } else {
    span.hidden = true;
  }
  return span;
}

function card(match) {
  const div = document.createElement("div");
  div.className = "card";
  const img = document.createElement("img");
  img.src = `/v1/products/${encodeURIComponent(match.id)}/image`;
  img.alt = match.title || match.id;
  const title = document.createElement("div");
  title.append(swatch(match.colour), match.title || match.id);
  const score = document.createElement("small");
  score.textContent = `similarity ${match.score.toFixed(2)}`;
  div.append(img, title, score);
  return div;
}

function showArticles(look) {
  const box = $("articles");
  box.replaceChildren();
  for (const article of look.articles) {
    const section = document.createElement("div");
    section.className = "article";
    section.dataset.category = article.category;
    const heading = document.createElement("h3");
    heading.append(swatch(article.colour), article.category + " ");
    const small = document.createElement("small");
    small.textContent = `${Math.round(article.score * 100)}%`;
    heading.append(small);
    const cards = document.createElement("div");
    cards.className = "cards";
    if (article.matches.length === 0) cards.textContent = article.note || "no matching products";
    for (const match of article.matches) cards.append(card(match));
    section.append(heading, cards);
    box.append(section);
  }
  $("timings").textContent = Object.entries(look.timings_ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(" · ");
}

async function submit(blob) {
  status("Looking…");
  let response;
  try {
    response = await fetch("/v1/look", { method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" } });
  } catch (e) { status(`The server cannot be reached: ${e}`, true); return; }
  const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) { status(answer.error || `HTTP ${response.status}`, true); return; }
  const bitmap = await createImageBitmap(blob);
  drawLook(bitmap, answer);
  showArticles(answer);
  $("result").hidden = false;
  document.body.dataset.state = "done";
  status(answer.stopped ? answer.stopped : `${answer.articles.length} articles found (${answer.shot}, facing ${answer.facing}).`, Boolean(answer.stopped));
}

$("file").addEventListener("change", (event) => { const f = event.target.files[0]; if (f) submit(f); });

$("start-camera").addEventListener("click", async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
    $("camera").srcObject = stream;
    $("camera").hidden = false;
    $("snap").hidden = false;
  } catch (e) { status(`No camera: ${e.message}. Choose a photo instead.`, true); }
});

$("snap").addEventListener("click", () => {
  const video = $("camera");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => blob && submit(blob), "image/jpeg", 0.92);
});

showCatalog();
