// The page's behaviour: build the form from GET /model's schema, score one
// student (JSON) or a CSV file (text/csv) with POST /predictdata, and show the
// answer or the server's validation errors. Plain browser JavaScript, no build.
"use strict";

(() => {
  const PREDICT_URL = "/predictdata";
  const DOWNLOAD_NAME = "predictions.csv";
  const PREVIEW_ROWS = 10;
  // Human labels for the schema's field names; an unknown field gets its name, spaced.
  const LABELS = {
    id: "ID",
    math_score: "Math score",
    gender: "Gender",
    race_ethnicity: "Race/ethnicity",
    parental_level_of_education: "Parental level of education",
    lunch: "Lunch",
    test_preparation_course: "Test preparation course",
    reading_score: "Reading score",
    writing_score: "Writing score",
  };
  // The public data set's CSV header spells these with spaces and a slash.
  const CSV_COLUMNS = { race_ethnicity: "race/ethnicity" };

  const $ = (id) => document.getElementById(id);
  let features = [];
  let model = null;
  let downloadUrl = null;

  function label(name) {
    const spaced = name.replace(/_/g, " ");
    return LABELS[name] || spaced.charAt(0).toUpperCase() + spaced.slice(1);
  }

  // A DOM element with attributes and children; text is always set as text, never as HTML.
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value !== undefined && value !== null) node.setAttribute(key, value);
    }
    node.append(...children.filter((c) => c !== undefined && c !== null));
    return node;
  }

  // The JSON body of a response, or a stand-in when it is not JSON (a proxy's HTML page).
  async function readJson(response) {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { error: `The server answered ${response.status} ${response.statusText}`.trim() };
    }
  }

  function setBusy(region, button, busy) {
    button.disabled = busy;
    region.setAttribute("aria-busy", String(busy));
  }

  // ---- the model ----------------------------------------------------------

  async function loadModel() {
    const info = $("model-info");
    let response;
    try {
      response = await fetch("/model", { headers: { Accept: "application/json" } });
    } catch {
      info.textContent = "The server cannot be reached; reload the page to try again.";
      return;
    }
    const body = await readJson(response);
    if (!response.ok) {
      info.textContent = `No model is available: ${body.error}`;
      return;
    }
    model = body;
    features = body.schema.features;
    describeModel(body);
    buildStudentFields(features);
    $("csv-columns").textContent =
      "Columns: id (optional), " + features.map((f) => CSV_COLUMNS[f.name] || f.name).join(", ") + ".";
    $("predict-button").disabled = false;
    $("csv-button").disabled = false;
  }

  function describeModel(body) {
    const metrics = body.metrics || {};
    const parts = [el("span", {}, "Model ", el("code", { id: "model-version" }, body.version))];
    if (typeof metrics.holdout_r2 === "number") {
      parts.push(el("span", {}, "holdout R² ", el("strong", { id: "model-r2" }, metrics.holdout_r2.toFixed(3))));
    }
    if (typeof metrics.holdout_mae === "number") {
      parts.push(
        el("span", {}, "mean absolute error ", el("strong", { id: "model-mae" }, metrics.holdout_mae.toFixed(2)), " points"),
      );
    }
    const info = $("model-info");
    info.replaceChildren();
    parts.forEach((part, i) => info.append(...(i ? [" · ", part] : [part])));
  }

  function buildStudentFields(schemaFeatures) {
    const container = $("student-fields");
    container.replaceChildren();
    for (const feature of schemaFeatures) {
      const id = `field-${feature.name}`;
      let control;
      let hint = null;
      if (feature.kind === "categorical") {
        control = el("select", { id, name: feature.name, required: "" }, el("option", { value: "" }, "Choose…"));
        for (const category of feature.categories) control.append(el("option", { value: category }, category));
      } else {
        const hintId = `${id}-hint`;
        hint = el("span", { id: hintId, class: "hint" }, `${feature.minimum} to ${feature.maximum}`);
        control = el("input", {
          id,
          name: feature.name,
          type: "number",
          min: feature.minimum,
          max: feature.maximum,
          step: "any",
          inputmode: "decimal",
          required: "",
          "aria-describedby": hintId,
        });
      }
      container.append(el("div", { class: "field" }, el("label", { for: id }, label(feature.name), hint ? " " : null, hint), control));
    }
  }

  // ---- one student ----------------------------------------------------------

  function studentFromForm() {
    const student = {};
    for (const feature of features) {
      const value = $(`field-${feature.name}`).value;
      student[feature.name] = feature.kind === "categorical" ? value : Number(value);
    }
    return student;
  }

  async function predictOne(event) {
    event.preventDefault();
    const region = $("single-result");
    const button = $("predict-button");
    setBusy(region, button, true);
    region.replaceChildren(el("p", {}, "Predicting…"));
    try {
      const response = await post(JSON.stringify(studentFromForm()), "application/json");
      const body = await readJson(response);
      if (!response.ok) {
        showError(region, body);
        return;
      }
      const mae = model.metrics && model.metrics.holdout_mae;
      region.replaceChildren(
        el("p", { class: "score" }, "Predicted math score: ", el("strong", { id: "math-score" }, String(body.math_score))),
        typeof mae === "number"
          ? el("p", { class: "help" }, `Typically within ${mae.toFixed(1)} points of the real score (model ${body.model_version}).`)
          : null,
      );
    } catch {
      showError(region, { error: "The server cannot be reached; check your connection and try again." });
    } finally {
      setBusy(region, button, false);
    }
  }

  function post(body, contentType) {
    return fetch(PREDICT_URL, {
      method: "POST",
      headers: { "Content-Type": contentType, Accept: "application/json, text/csv" },
      body,
    });
  }

  // ---- a CSV file -------------------------------------------------------------

  async function scoreFile(event) {
    event.preventDefault();
    const file = $("csv-file").files[0];
    if (!file) return;
    const region = $("bulk-result");
    const button = $("csv-button");
    setBusy(region, button, true);
    region.replaceChildren(el("p", {}, `Scoring ${file.name}…`));
    try {
      const response = await post(file, "text/csv");
      if (!response.ok) {
        showError(region, await readJson(response));
        return;
      }
      showPredictions(region, await response.text(), response.headers.get("X-Model-Version"));
    } catch {
      showError(region, { error: "The server cannot be reached; check your connection and try again." });
    } finally {
      setBusy(region, button, false);
    }
  }

  function showPredictions(region, csvText, version) {
    const rows = parseCsv(csvText);
    const [header, ...records] = rows;
    const count = records.length;
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(new Blob([csvText], { type: "text/csv" }));
    const shown = records.slice(0, PREVIEW_ROWS);
    region.replaceChildren(
      el(
        "p",
        { class: "score" },
        "Scored ",
        el("strong", { id: "scored-count" }, String(count)),
        count === 1 ? " student" : " students",
        version ? ` with model ${version}.` : ".",
      ),
      el("p", {}, el("a", { id: "download-link", class: "button", href: downloadUrl, download: DOWNLOAD_NAME }, `Download ${DOWNLOAD_NAME}`)),
      count ? table(
        shown.length < count ? `The first ${shown.length} of ${count} predictions` : "Predictions",
        header.map(label),
        shown,
        "preview-table",
      ) : null,
    );
  }

  // RFC 4180 records: the server quotes an id holding a comma, a quote or a line break.
  function parseCsv(text) {
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') {
          field += '"';
          i++;
        } else if (c === '"') {
          quoted = false;
        } else {
          field += c;
        }
      } else if (c === '"') {
        quoted = true;
      } else if (c === ",") {
        row.push(field);
        field = "";
      } else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field);
        rows.push(row);
        row = [];
        field = "";
      } else {
        field += c;
      }
    }
    if (field || row.length) rows.push([...row, field]);
    return rows;
  }

  // ---- errors -----------------------------------------------------------------

  // {"error"} alone (400, 413, 415, 503), or with "details" and "total_errors" (422).
  function showError(region, body) {
    const details = Array.isArray(body.details) ? body.details : [];
    const children = [el("p", { class: "error-summary" }, el("strong", {}, "Not scored: "), body.error || "the request failed.")];
    if (details.length) {
      const total = body.total_errors || details.length;
      children.push(
        table(
          total > details.length ? `The first ${details.length} of ${total} problems` : `${total} problem${total === 1 ? "" : "s"} to fix`,
          ["Row", "Field", "Message"],
          details.map((d) => [d.row === null || d.row === undefined ? "(all)" : String(d.row), d.field || "(all)", d.message]),
          "error-table",
        ),
      );
    }
    region.replaceChildren(...children);
  }

  function table(caption, headings, rows, id) {
    return el(
      "table",
      { id },
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))),
    );
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("student-form").addEventListener("submit", predictOne);
    $("csv-form").addEventListener("submit", scoreFile);
    loadModel();
  });
})();
