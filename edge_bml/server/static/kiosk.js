// The kiosk page: a photo from the camera or a file goes to POST /v1/look; the answer is drawn
// as boxes on the photo and a row of similar products per piece. Shoppers read plain words;
// scores and timings stay behind the operators' toggle. No external resources.
"use strict";
const $ = (id) => document.getElementById(id);
const COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#0082c8", "#f58230", "#911eb4",
                 "#46f0f0", "#f032e6", "#d2f53c", "#fabebe", "#008080", "#aa6e28"];
const colourOf = (() => { const seen = {}; return (c) => (seen[c] ??= COLOURS[Object.keys(seen).length % COLOURS.length]); })();
const NAMES = { top: "Top", outerwear: "Jacket or coat", dress: "Dress", pants: "Trousers", shorts: "Shorts",
                skirt: "Skirt", footwear: "Shoes", bag: "Bag", hat: "Hat", eyewear: "Glasses", belt: "Belt",
                scarf: "Scarf" };
const nameOf = (category) => NAMES[category] || category;
const ERRORS = {
  408: "The photo took too long to arrive. Please try again.",
  413: "That photo is too large. Please choose a smaller photo.",
  415: "That file is not a photo we can read. Please choose a JPEG or PNG photo.",
  422: "That file is not a photo we can read. Please choose a JPEG or PNG photo.",
  503: "The kiosk is busy right now. Please try again in a moment.",
};

function status(text, state) {
  $("status").textContent = text;
  $("status").className = ["error", "busy"].includes(state) ? "error" : "";
  document.body.dataset.state = state;
}

function clearResult() {
  $("result").hidden = true;
  $("articles").replaceChildren();
  $("timings").textContent = "";
  const canvas = $("photo");
  canvas.width = canvas.height = 0;
}

async function showCatalog() {
  try {
    const response = await fetch("/v1/catalog");
    const info = await response.json();
    $("catalog").textContent = response.ok ? `${info.total} products to discover` : "";
  } catch (e) { $("catalog").textContent = ""; }
}

// Labels go above their box where there is room, else inside it, and move down past labels
// already placed; all stay inside the photo.
function placeLabels(ctx, articles, width, height, pad) {
  const placed = [];
  const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const lineHeight = parseInt(ctx.font, 10) + 2 * pad;
  for (const article of articles) {
    const [x0, y0] = article.box;
    const text = nameOf(article.category);
    const w = ctx.measureText(text).width + 2 * pad;
    const rect = { x: Math.min(Math.max(0, x0), width - w), y: y0 - lineHeight >= 0 ? y0 - lineHeight : y0, w, h: lineHeight, text, article };
    for (let tries = 0; tries < 40 && placed.some((p) => overlaps(rect, p)); tries += 1) rect.y += lineHeight;
    rect.y = Math.min(Math.max(0, rect.y), height - lineHeight);
    placed.push(rect);
  }
  return placed;
}

function drawLook(bitmap, look) {
  const canvas = $("photo");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const line = Math.max(2, Math.round(Math.max(bitmap.width, bitmap.height) / 250));
  ctx.font = `${line * 7}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (const article of look.articles) {
    const [x0, y0, x1, y1] = article.box;
    ctx.strokeStyle = colourOf(article.category);
    ctx.lineWidth = line;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
  for (const label of placeLabels(ctx, look.articles, canvas.width, canvas.height, line)) {
    ctx.fillStyle = colourOf(label.article.category);
    ctx.fillRect(label.x, label.y, label.w, label.h);
    ctx.fillStyle = "#fff";
    ctx.fillText(label.text, label.x + line, label.y + line);
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
  img.src = match.image_url || `/v1/products/${encodeURIComponent(match.id)}/image`;
  img.alt = match.title || match.id;
  const title = document.createElement("div");
  title.append(swatch(match.colour), match.title || match.id);
  const note = document.createElement("small");
  note.textContent = "similar";
  note.title = `similarity ${match.score.toFixed(3)}`;
  div.append(img, title, note);
  return div;
}

function showArticles(look) {
  const box = $("articles");
  box.replaceChildren();
  for (const article of look.articles) {
    const section = document.createElement("div");
    section.className = "article";
    section.dataset.category = article.category;
    section.title = `detector score ${article.score.toFixed(2)}`;
    const heading = document.createElement("h3");
    heading.append(swatch(article.colour), nameOf(article.category));
    const cards = document.createElement("div");
    cards.className = "cards";
    if (article.matches.length === 0) cards.textContent = "Not in our catalog yet.";
    for (const match of article.matches) cards.append(card(match));
    section.append(heading, cards);
    box.append(section);
  }
  $("timings").textContent = Object.entries(look.timings_ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(" · ");
}

function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1) + ".";
}

async function submit(blob) {
  clearResult();
  status("Looking at your outfit…", "working");
  let response;
  try {
    response = await fetch("/v1/look", { method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" } });
  } catch (e) { status("The kiosk cannot reach its server. Please ask a member of staff.", "error"); return; }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    status(ERRORS[response.status] || "Something went wrong with that photo. Please try another one.",
           response.status === 503 ? "busy" : "error");
    return;
  }
  if (answer.stopped) {
    status(sentence(answer.stopped), "stopped");
    return;
  }
  const bitmap = await createImageBitmap(blob);
  drawLook(bitmap, answer);
  showArticles(answer);
  $("result").hidden = false;
  const pieces = answer.articles.length;
  status(pieces ? `Your look: ${pieces} ${pieces === 1 ? "piece" : "pieces"}` : "We could not find any pieces in this photo.", "done");
}

$("file").addEventListener("change", (event) => { const f = event.target.files[0]; event.target.value = ""; if (f) submit(f); });

$("show-timings").addEventListener("change", (event) => { $("timings").hidden = !event.target.checked; });

$("start-camera").addEventListener("click", async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
    $("camera").srcObject = stream;
    $("camera").hidden = false;
    $("snap").hidden = false;
  } catch (e) { status("The camera is not available. Please choose a photo instead.", "error"); }
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
