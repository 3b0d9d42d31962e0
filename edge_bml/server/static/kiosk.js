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

// A department choice where the catalog has a department-like attribute column (GET /v1/catalog lists
// each column's values): department or gender values as they are, or a kids column as Adults / Children.
// The choice goes with each photo as ?where=COLUMN=VALUE; "Everything" lifts the catalog's default filter.
const DEPARTMENT_COLUMNS = ["department", "gender"];
let department = null;

function showDepartments(info) {
  const attributes = info.attributes || {};
  const column = DEPARTMENT_COLUMNS.find((c) => c in attributes) || ("kids" in attributes ? "kids" : null);
  if (!column) return;
  const values = Object.keys(attributes[column]);
  const options = column === "kids"
    ? [["Adults", "false"], ["Children", "true"]].filter(([, v]) => values.some((x) => x.toLowerCase() === v))
    : values.map((v) => [v, v]);
  if (options.length < 2) return;
  const select = $("department-choice");
  select.replaceChildren(...[["Everything", "*"], ...options].map(([text, value]) => new Option(text, value)));
  const preset = (info.default_where || {})[column];
  if (preset && preset.length === 1) select.value = options.find(([, v]) => v.toLowerCase() === preset[0].toLowerCase())?.[1] ?? "*";
  department = () => `${column}=${select.value}`;
  $("department").hidden = false;
}

async function showCatalog() {
  try {
    const response = await fetch("/v1/catalog");
    const info = await response.json();
    $("catalog").textContent = response.ok ? `${info.total} products to discover` : "";
    if (response.ok) showDepartments(info);
  } catch (e) { $("catalog").textContent = ""; }
}

// Labels go above their box where there is room, else inside it, and move down past labels
// already placed; all stay inside the photo.
// The same rule as edge_bml/label_placement.py (the PNG and HTML drawings): above the box, below, right,
// left, inside its corner, then beside the face; the first spot inside the image and clear of the labels
// placed and of the face wins, else the one that covers least.
function faceZone(keypoints) {
  if (!keypoints) return null;
  const face = keypoints.slice(0, 11).filter((k) => k.length < 3 || k[2] >= 0.5);
  if (face.length < 3) return null;
  const xs = face.map((k) => k[0]);
  const ys = face.map((k) => k[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 0.35 * Math.max(x1 - x0, y1 - y0);
  return { x: x0 - pad, y: y0 - pad, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad };
}

function placeLabels(ctx, articles, width, height, pad, face) {
  const placed = [];
  const covered = (a, b) =>
    Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) *
    Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const avoid = face ? [face] : [];
  const h = parseInt(ctx.font, 10) + 2 * pad;
  for (const article of articles) {
    const [x0, y0, x1, y1] = article.box;
    const text = nameOf(article.category);
    const w = ctx.measureText(text).width + 2 * pad;
    const spots = [[x0, y0 - h], [x0, y1], [x1, y0], [x0 - w, y0], [x0, y0]];
    for (const z of avoid) spots.push([z.x + z.w, y0], [z.x - w, y0], [x0, z.y - h], [x0, z.y + z.h]);
    let best = null;
    let bestCost = Infinity;
    for (const [sx, sy] of spots) {
      const rect = {
        x: Math.min(Math.max(sx, 0), Math.max(width - w, 0)),
        y: Math.min(Math.max(sy, 0), Math.max(height - h, 0)),
        w,
        h,
      };
      const cost = placed.reduce((c, p) => c + covered(rect, p), 0) + avoid.reduce((c, z) => c + covered(rect, z), 0);
      if (cost < bestCost) [best, bestCost] = [rect, cost];
      if (cost === 0) break;
    }
    placed.push({ ...best, text, article });
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
  const face = faceZone(look.keypoints);
  const labels = placeLabels(ctx, look.articles, canvas.width, canvas.height, line, face);
  // What was drawn where, for the browser test: labels inside the photo, clear of each other and the face.
  canvas.dataset.labels = JSON.stringify({ face, labels: labels.map(({ x, y, w, h }) => ({ x, y, w, h })) });
  for (const label of labels) {
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

// A product's page, where the catalog has a url column with an http(s) address; anything else is no link.
function productUrl(match) {
  const url = (match.attributes || {}).url;
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch (e) { return null; }
}

function card(match) {
  const href = productUrl(match);
  const div = document.createElement(href ? "a" : "div");
  div.className = "card";
  if (href) {
    div.href = href;
    div.target = "_blank";
    div.rel = "noopener noreferrer";
  }
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

// The detector boxes each shoe; a shopper sees one row for the pair (the better-scored shoe's matches).
function shopperRows(articles) {
  const rows = [];
  let shoes = null;
  for (const article of articles) {
    if (article.category !== "footwear") rows.push(article);
    else if (shoes === null) { shoes = article; rows.push(article); }
    else if (article.score > shoes.score) { rows[rows.indexOf(shoes)] = article; shoes = article; }
  }
  return rows;
}

function showArticles(look) {
  const box = $("articles");
  box.replaceChildren();
  box.dataset.found = look.articles.length;  // articles drawn on the photo (a pair of shoes is one row)
  for (const article of shopperRows(look.articles)) {
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
    const url = department ? `/v1/look?where=${encodeURIComponent(department())}` : "/v1/look";
    response = await fetch(url, { method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" } });
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

// Timings are for operators: the toggle shows only on the kiosk page opened as /?operator=1.
$("operator").hidden = new URLSearchParams(location.search).get("operator") !== "1";
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
