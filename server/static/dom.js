// The page's one way to make DOM elements, shared by its scripts. Text is always
// set as text, never as HTML, so nothing from a file or the server can become markup.
"use strict";

window.StudyDom = (() => {
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value !== undefined && value !== null) node.setAttribute(key, value);
    }
    node.append(...children.filter((c) => c !== undefined && c !== null));
    return node;
  }

  return { el };
})();
