// After a CSV upload, whether the cohort looks like the students the model learned
// from, in plain words. The upload asks for ?report=drift when the model carries a
// drift reference; the answer's X-Drift-Report header (ASCII JSON: the flagged
// fields' sentences) rides on the CSV itself, so the students are sent and counted
// once. app.js calls these hooks; nothing here runs on its own.
"use strict";

window.StudyDrift = (() => {
  const HEADER = "X-Drift-Report";

  // `query`: the upload's query string so far ("" or "?interval=90").
  function fileQuery(model, query) {
    const reports = (model.options && model.options.report) || [];
    if (!reports.includes("drift")) return query;
    return query ? `${query}&report=drift` : "?report=drift";
  }

  // Shows the cohort's comparison in `region`; nothing if the answer carries none.
  function show(region, response) {
    const value = response.headers.get(HEADER);
    if (!value) return;
    let report;
    try {
      report = JSON.parse(value);
    } catch {
      return; // a proxy mangled it: the scores still stand on their own
    }
    const box = document.createElement("div");
    box.id = "drift-report";
    box.className = "drift";
    const heading = document.createElement("p");
    heading.id = "drift-words";
    const flagged = report.flagged || [];
    if (flagged.length) {
      heading.textContent = flagged.length === 1
        ? "This cohort is unlike the students the model learned from:"
        : `This cohort is unlike the students the model learned from in ${flagged.length} ways:`;
      const list = document.createElement("ul");
      list.id = "drift-summaries";
      for (const name of flagged) {
        const item = document.createElement("li");
        item.dataset.field = name;
        item.textContent = sentence(report.summaries[name]);
        list.append(item);
      }
      box.append(heading, list, note(
        "The predictions may be less accurate for it than the model's tests suggest."));
    } else if (report.tested === 0) {
      heading.textContent = `${report.students} students are too few to compare with the `
        + "students the model learned from.";
      box.append(heading);
    } else {
      heading.textContent = "Nothing is unusual about this cohort: it looks like the "
        + "students the model learned from.";
      box.append(heading);
    }
    // Right under the count of students scored: read before the download and the rows.
    const count = region.firstElementChild;
    if (count) count.after(box);
    else region.append(box);
  }

  function sentence(text) {
    const words = String(text || "");
    return `${words.charAt(0).toUpperCase()}${words.slice(1)}.`;
  }

  function note(text) {
    const p = document.createElement("p");
    p.className = "help";
    p.textContent = text;
    return p;
  }

  return { fileQuery, show };
})();
