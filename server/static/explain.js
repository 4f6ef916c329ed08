// What the page adds to a bare score: the range most students like this one score
// in, each field's points as a small bar chart, the model card, and GET /model's
// details in a panel (a raw link to /model would show a 401 where keys are needed).
// app.js calls these hooks; nothing here runs on its own.
"use strict";

window.StudyExplain = (() => {
  const LEVEL = 90; // the range the page shows, when the model carries it
  const CARD_URL = "/model/card";
  const MINUS = "\u2212"; // a real minus sign: as wide as the plus, not a hyphen

  const { el } = window.StudyDom;

  function signed(points) {
    const text = Math.abs(points).toFixed(2);
    if (points > 0) return `+${text}`;
    return points < 0 ? `${MINUS}${text}` : text;
  }

  // ---- the query strings --------------------------------------------------------

  function level(model) {
    const levels = (model.options && model.options.interval) || [];
    return levels.includes(LEVEL) ? LEVEL : levels[levels.length - 1];
  }

  // One student: the range and the contributions, as far as the model offers them.
  function singleQuery(model) {
    const params = new URLSearchParams();
    const chosen = level(model);
    if (chosen !== undefined) params.set("interval", String(chosen));
    if (model.options && model.options.explain) params.set("explain", "true");
    const query = params.toString();
    return query ? `?${query}` : "";
  }

  // A CSV file: the range's columns in the download (contributions would be 8 more).
  function fileQuery(model) {
    const chosen = level(model);
    return chosen === undefined ? "" : `?interval=${chosen}`;
  }

  // ---- one student's answer -----------------------------------------------------

  // The elements to show under the score: the range in words, then the chart.
  function explain(body, student, label) {
    const parts = [];
    if (typeof body.math_score_lower === "number") parts.push(range(body));
    if (body.contributions && typeof body.baseline === "number") {
      parts.push(chart(body, student, label));
    }
    return parts;
  }

  function range(body) {
    const whole = (x) => String(Math.round(x));
    return el("p", { id: "score-range", class: "explain-range" },
      el("strong", { id: "range-score" }, whole(body.math_score)),
      " — most students like this score between ",
      el("strong", { id: "range-lower" }, whole(body.math_score_lower)),
      " and ",
      el("strong", { id: "range-upper" }, whole(body.math_score_upper)),
      el("span", { class: "hint" },
        ` (${body.interval_level} in 100 of them, in the model's tests)`));
  }

  // A table, so a screen reader reads each field's answer and points; the bars are
  // a picture of the same numbers, left of the line taking away, right adding.
  function chart(body, student, label) {
    const entries = Object.entries(body.contributions)
      .sort(([, a], [, b]) => Math.abs(b) - Math.abs(a));
    const largest = Math.max(...entries.map(([, points]) => Math.abs(points)), 0);
    const rows = entries.map(([name, points]) => el("tr", { "data-field": name },
      el("th", { scope: "row", class: "explain-field" }, `${label(name)}: ${student[name]}`),
      el("td", { class: "explain-bar-cell", "aria-hidden": "true" }, bar(points, largest)),
      el("td", { class: "explain-points" }, signed(points))));
    const moved = body.math_score - body.baseline;
    return el("div", { id: "explanation", class: "explain" },
      el("p", { id: "baseline-words", class: "help" },
        "A typical student (the reference: the most common answer to each question, "
        + "average reading and writing scores) scores ",
        el("strong", { id: "baseline" }, body.baseline.toFixed(2)),
        `; this student's answers move that by ${signed(moved)} points, to `
        + `${body.math_score.toFixed(2)}.`),
      el("table", { id: "contributions" },
        el("caption", {}, "What each answer adds to or takes from the score, in points"),
        el("thead", {}, el("tr", {},
          el("th", { scope: "col" }, "Answer"),
          el("th", { scope: "col" }, el("span", { class: "explain-axis" },
            el("span", {}, "takes away"), el("span", {}, "adds"))),
          el("th", { scope: "col", class: "explain-points" }, "Points"))),
        el("tbody", {}, ...rows)));
  }

  function bar(points, largest) {
    const track = el("div", { class: "explain-track" });
    if (points !== 0 && largest > 0) {
      const side = points > 0 ? "explain-adds" : "explain-takes";
      const shown = el("div", { class: `explain-bar ${side}` });
      // CSSOM, not a style attribute: the page's CSP allows no inline styles.
      shown.style.width = `${(50 * Math.abs(points)) / largest}%`;
      track.append(shown);
    }
    return track;
  }

  // ---- the model line and the footer --------------------------------------------

  // After GET /model: the card's link on the model line, the details in the footer.
  // `call` fetches with the tab's key; `keyed` says whether the tab holds one.
  function modelLoaded(model, call, keyed) {
    const info = document.getElementById("model-info");
    const link = el("a", { id: "card-link", href: CARD_URL, target: "_blank", rel: "noopener" },
      "model card");
    // With a key, a plain link would open a 401: fetch the card and save it instead.
    if (keyed) link.addEventListener("click", (event) => saveCard(event, model, call));
    info.append(" · ", link);
    document.getElementById("model-json").textContent = JSON.stringify(model, null, 2);
  }

  async function saveCard(event, model, call) {
    event.preventDefault();
    const note = document.getElementById("card-note");
    note.textContent = "Fetching the model card…";
    let response;
    try {
      response = await call(CARD_URL, { headers: { Accept: "text/html" } });
    } catch {
      note.textContent = "The model card could not be fetched: the server cannot be reached.";
      return;
    }
    if (!response.ok) {
      note.textContent = response.status === 401
        ? "The model card needs a valid API key: enter it above and try again."
        : `The model card is not available (the server answered ${response.status}).`;
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const save = el("a", { href: url, download: `model-card-${model.version}.html` });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000); // the download reads it after the click
    note.textContent = "The model card was saved to your downloads; open it from there.";
  }

  return { singleQuery, fileQuery, explain, modelLoaded };
})();
