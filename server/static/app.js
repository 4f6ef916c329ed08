// The page's behaviour: build the form from GET /model's schema, score one
// student (JSON) or a CSV file (text/csv) with POST /predictdata, and show the
// answer or the server's validation errors. When the server answers 401 it asks
// for an API key, kept for this tab only. Plain browser JavaScript, no build.
"use strict";

(() => {
  const PREDICT_URL = "/predictdata";
  const DOWNLOAD_NAME = "predictions.csv";
  const WORKBOOK_NAME = "predictions.xlsx";
  const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
    "Dec"];
  const PREVIEW_ROWS = 10;
  const UNREACHABLE = "the server cannot be reached; check your connection and try again.";
  // sessionStorage: the key lives as long as the tab, never on disk across visits.
  const KEY_STORAGE = "studypredict.apiKey";
  const KEY_REFUSED = "That API key was not accepted. Check that you copied all of it, "
    + "or ask for a new one, and enter it again.";
  const KEY_WITHDRAWN = "The server no longer accepts the API key this tab was using; "
    + "enter a valid key above and try again.";
  // Human labels for the schema's field names; an unknown field shows its name, spaced.
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

  const $ = (id) => document.getElementById(id);
  let model = null; // GET /model's answer, once it has arrived
  let downloadUrl = null;
  let lastFile = null; // the file scored last, with its query: the workbook is asked for on click

  function label(name) {
    const spaced = name.replace(/_/g, " ");
    return LABELS[name] || spaced.charAt(0).toUpperCase() + spaced.slice(1);
  }

  // A column as the public data set's CSV header spells it; the server takes either spelling.
  function csvColumn(name) {
    return name === "race_ethnicity" ? "race/ethnicity" : name.replace(/_/g, " ");
  }

  const { el } = window.StudyDom; // text as text, never as HTML

  // The JSON body of a response, or a stand-in when it is not JSON (a proxy's HTML page).
  async function readJson(response) {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { error: `the server answered ${response.status} ${response.statusText}`.trim() };
    }
  }

  // ---- the API key ------------------------------------------------------------------

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE);
    } catch {
      return null; // storage disabled: the key is asked for again on each load
    }
  }

  function storeKey(key) {
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      // storage disabled: nothing to keep or forget
    }
  }

  // A request to our server, with the tab's key (if any) as a header.
  function call(url, options = {}) {
    const headers = { ...(options.headers || {}) };
    const key = storedKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    return fetch(url, { ...options, headers });
  }

  // Shows the key form, with `message` (a refusal) or none (the first ask).
  function askForKey(message) {
    const note = $("key-message");
    note.hidden = !message;
    note.textContent = message || "";
    $("key-section").hidden = false;
    $("api-key").value = "";
    $("api-key").focus();
  }

  function useKey(event) {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    storeKey(key);
    $("key-message").hidden = true;
    loadModel();
  }

  function post(body, contentType, query = "", accept = "application/json, text/csv") {
    return call(PREDICT_URL + query, {
      method: "POST",
      headers: { "Content-Type": contentType, Accept: accept },
      body,
    });
  }

  // A 401 on a data call: the tab's key was refused or withdrawn, or none was sent.
  function refused(region) {
    storeKey(null);
    askForKey(KEY_WITHDRAWN);
    showError(region, { error: "this server needs a valid API key (see above)." });
  }

  // Runs `work` with the button disabled and the region marked busy, and turns
  // a network failure into a readable message.
  async function whileBusy(region, button, message, work) {
    button.disabled = true;
    region.setAttribute("aria-busy", "true");
    region.replaceChildren(el("p", {}, message));
    try {
      await work();
    } catch (error) {
      console.error(error); // a bug shows in the console, not only as "unreachable"
      showError(region, { error: UNREACHABLE });
    } finally {
      button.disabled = false;
      region.setAttribute("aria-busy", "false");
    }
  }

  // ---- the model ----------------------------------------------------------------

  async function loadModel() {
    const info = $("model-info");
    let response;
    try {
      response = await call("/model", { headers: { Accept: "application/json" } });
    } catch {
      info.textContent = `No model is available: ${UNREACHABLE}`;
      return;
    }
    if (response.status === 401) {
      const sent = storedKey();
      storeKey(null);
      info.textContent = "This server needs an API key before it shows the model.";
      askForKey(sent ? KEY_REFUSED : null);
      return;
    }
    $("key-section").hidden = true;
    const body = await readJson(response);
    if (!response.ok) {
      info.textContent = `No model is available: ${body.error}`;
      return;
    }
    const first = model === null; // a key entered later must not clear a filled-in form
    model = body;
    describeModel(body);
    StudyExplain.modelLoaded(body, call, storedKey() !== null);
    if (!first) return;
    const features = body.schema.features;
    $("student-fields").replaceChildren(...features.map(field));
    const columns = features.map((f) => csvColumn(f.name)).join(", ");
    $("csv-columns").textContent = `Columns: ${columns}, and optionally id.`;
    $("predict-button").disabled = false;
    $("csv-button").disabled = false;
  }

  // "27 Nov 2026" from an ISO timestamp, in UTC (as the model's version id is).
  function dayOf(timestamp) {
    const date = new Date(timestamp);
    if (Number.isNaN(date.getTime())) return null;
    return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
  }

  // "trained 27 Nov 2026 · typical error ±4.4 points"; the version id on a line below.
  function describeModel(body) {
    const metrics = body.metrics || {};
    const parts = [];
    const day = body.created_at ? dayOf(body.created_at) : null;
    if (day) parts.push(el("span", {}, "Model trained ", el("strong", { id: "model-trained" }, day)));
    if (typeof metrics.holdout_mae === "number") {
      const mae = el("strong", { id: "model-error" }, `±${metrics.holdout_mae.toFixed(1)}`);
      parts.push(el("span", {}, "typical error ", mae, " points"));
    }
    if (!parts.length) parts.push(el("span", {}, "Model loaded"));
    $("model-info").replaceChildren(...parts.flatMap((part, i) => (i ? [" · ", part] : [part])));
    $("model-version-line").replaceChildren(
      "Version ", el("code", { id: "model-version" }, body.version),
      typeof metrics.holdout_r2 === "number" ? ` · holdout R² ${metrics.holdout_r2.toFixed(3)}` : "");
  }

  // One labelled control: a list of the allowed values, or a number within its range.
  function field(feature) {
    const id = `field-${feature.name}`;
    if (feature.kind === "categorical") {
      const options = feature.categories.map((c) => el("option", { value: c }, c));
      const select = el("select", { id, name: feature.name, required: "" },
        el("option", { value: "" }, "Choose…"), ...options);
      return el("div", { class: "field" }, el("label", { for: id }, label(feature.name)), select);
    }
    const hintId = `${id}-hint`;
    const input = el("input", {
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
    return el("div", { class: "field" },
      el("label", { for: id }, label(feature.name)),
      el("span", { id: hintId, class: "hint" }, `${feature.minimum} to ${feature.maximum}`),
      input);
  }

  // ---- one student ----------------------------------------------------------------

  function studentFromForm() {
    const student = {};
    for (const feature of model.schema.features) {
      const value = $(`field-${feature.name}`).value;
      student[feature.name] = feature.kind === "categorical" ? value : Number(value);
    }
    return student;
  }

  function predictOne(event) {
    event.preventDefault();
    const region = $("single-result");
    return whileBusy(region, $("predict-button"), "Predicting…", async () => {
      const student = studentFromForm();
      const query = StudyExplain.singleQuery(model);
      const response = await post(JSON.stringify(student), "application/json", query);
      if (response.status === 401) {
        refused(region);
        return;
      }
      const body = await readJson(response);
      if (!response.ok) {
        showError(region, body, "form");
        return;
      }
      const score = el("strong", { id: "math-score" }, String(body.math_score));
      const mae = model.metrics && model.metrics.holdout_mae;
      region.replaceChildren(
        el("p", { class: "score" }, "Predicted math score: ", score),
        typeof mae === "number"
          ? el("p", { class: "help" },
            `Typically within ${mae.toFixed(1)} points of the real score `
            + `(model ${body.model_version}).`)
          : null,
      );
      region.append(...StudyExplain.explain(body, student, label));
    });
  }

  // ---- a CSV file -----------------------------------------------------------------

  function scoreFile(event) {
    event.preventDefault();
    const file = $("csv-file").files[0];
    if (!file) return undefined;
    const region = $("bulk-result");
    return whileBusy(region, $("csv-button"), `Scoring ${file.name}…`, async () => {
      // echo=all: the answer is the file's own rows, every column, with the scores after.
      const query = StudyDrift.fileQuery(model, StudyExplain.fileQuery(model));
      const type = file.name.toLowerCase().endsWith(".xlsx") ? XLSX : "text/csv";
      lastFile = { file, type, query: `${query || "?"}${query ? "&" : ""}echo=all` };
      const response = await post(file, type, lastFile.query);
      if (response.status === 401) {
        refused(region);
        return;
      }
      if (!response.ok) {
        showError(region, await readJson(response), "file");
        return;
      }
      // The bytes as sent: a byte-order mark, if any, lets the spreadsheet read them back.
      const answer = await response.arrayBuffer();
      showPredictions(region, answer, response.headers.get("X-Model-Version"));
      StudyDrift.show(region, response);
    });
  }

  // The count, a download of the server's CSV exactly as sent (the file's own rows
  // and separator, the scores after them), and its first rows.
  function showPredictions(region, answer, version) {
    const text = new TextDecoder("utf-8").decode(answer); // drops a byte-order mark
    const headerLine = text.slice(0, text.search(/\r?\n|$/));
    const at = headerLine.lastIndexOf("math_score");
    const separator = at > 0 && headerLine[at - 1] !== "," ? headerLine[at - 1] : ",";
    const [header, ...records] = parseCsv(text, separator);
    const count = records.length;
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(new Blob([answer], { type: "text/csv" }));
    const shown = records.slice(0, PREVIEW_ROWS);
    const caption = shown.length < count
      ? `The first ${shown.length} of ${count} predictions`
      : "Predictions";
    region.replaceChildren(
      el("p", { class: "score" },
        "Scored ", el("strong", { id: "scored-count" }, String(count)),
        count === 1 ? " student." : " students.",
        version ? el("span", { class: "help", id: "scored-version" }, ` (model ${version})`) : null),
      el("p", {}, el("a", {
        id: "download-link", class: "button", href: downloadUrl, download: DOWNLOAD_NAME,
      }, `Download ${DOWNLOAD_NAME}`), " ", workbookButton()),
      count ? table("preview-table", caption, header.map(label), shown) : null,
    );
  }

  // The same answer as an Excel workbook: the file is scored again, asked for as .xlsx.
  function workbookButton() {
    const button = el("button", { type: "button", id: "download-xlsx", class: "button" },
      `Download ${WORKBOOK_NAME}`);
    button.addEventListener("click", async () => {
      const { file, type, query } = lastFile;
      button.disabled = true;
      try {
        const response = await post(file, type, query, XLSX);
        if (!response.ok) {
          showError($("bulk-result"), await readJson(response), "file");
          return;
        }
        const url = URL.createObjectURL(await response.blob());
        const save = el("a", { href: url, download: WORKBOOK_NAME });
        document.body.append(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000); // the download reads it after the click
      } catch (error) {
        console.error(error);
        showError($("bulk-result"), { error: UNREACHABLE });
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  // RFC 4180 records: the server quotes an id holding a comma, a quote or a line break.
  function parseCsv(text, separator) {
    const rows = [];
    let row = [];
    let value = "";
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') {
          value += '"';
          i++;
        } else if (c === '"') {
          quoted = false;
        } else {
          value += c;
        }
      } else if (c === '"') {
        quoted = true;
      } else if (c === separator) {
        row.push(value);
        value = "";
      } else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        rows.push([...row, value]);
        row = [];
        value = "";
      } else {
        value += c;
      }
    }
    if (value || row.length) rows.push([...row, value]);
    return rows;
  }

  // ---- errors ---------------------------------------------------------------------

  // {"error"} alone (400, 413, 415, 503), or with "details" and "total_errors" (422),
  // in the words of the form ("form") or of a spreadsheet ("file"): the rows as the
  // spreadsheet numbers them (the server's CSV rows already are), the form's labels.
  function showError(region, body, about) {
    const details = Array.isArray(body.details) ? body.details : [];
    if (!details.length) {
      region.replaceChildren(el("p", { class: "error-summary" },
        el("strong", {}, "Not scored: "), body.error || "the request failed."));
      return;
    }
    const total = body.total_errors || details.length;
    const problems = `${total} problem${total === 1 ? "" : "s"}`;
    const first = details.find((d) => d.row != null);
    const summary = about === "file"
      ? el("p", { class: "error-summary" }, el("strong", {}, "Nothing was scored. "),
        `The file has ${problems}. Fix ${total === 1 ? "it" : "them"} in your spreadsheet `
        + "and choose the file again"
        + (first ? `; start with row ${first.row}.` : "."))
      : el("p", { class: "error-summary" }, el("strong", {}, "Not predicted. "),
        `Check ${details.map((d) => label(d.field || "the form")).join(", ")}.`);
    const caption = total > details.length
      ? `The first ${details.length} of ${total} problems`
      : `${problems} to fix`;
    const field = (d) => (d.field ? label(d.field) : "(the whole row)");
    const rows = about === "file"
      ? details.map((d) => [d.row == null ? "(the file)" : String(d.row), field(d), d.message])
      : details.map((d) => [field(d), d.message]);
    const headings = about === "file" ? ["Row", "Column", "Problem"] : ["Field", "Problem"];
    region.replaceChildren(summary, table("error-table", caption, headings, rows));
  }

  function table(id, caption, headings, rows) {
    return el("table", { id },
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))));
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("student-form").addEventListener("submit", predictOne);
    $("csv-form").addEventListener("submit", scoreFile);
    $("key-form").addEventListener("submit", useKey);
    loadModel();
  });
})();
