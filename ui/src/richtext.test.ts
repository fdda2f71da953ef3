import { describe, expect, it } from "vitest";
import { MAX_MARKS, richText, safeHref } from "./richtext";

/** `text` rendered into a div, as a message's .text. */
function render(text: string): HTMLDivElement {
  const div = document.createElement("div");
  div.append(...richText(text));
  return div;
}

function links(div: HTMLElement): { text: string; href: string | null; dataHref: string | undefined; title: string }[] {
  return [...div.querySelectorAll<HTMLAnchorElement>("a")].map((a) => ({
    text: a.textContent ?? "",
    href: a.getAttribute("href"),
    dataHref: a.dataset.href,
    title: a.title,
  }));
}

/** Tag names of every element under `div`. */
function tags(div: HTMLElement): string[] {
  return [...div.querySelectorAll("*")].map((e) => e.tagName.toLowerCase());
}

describe("richText", () => {
  it("is one text node when there is nothing to mark", () => {
    const nodes = richText("hello there, how are you?");
    expect(nodes).toHaveLength(1);
    expect(nodes[0]?.nodeType).toBe(Node.TEXT_NODE);
    expect(nodes[0]?.textContent).toBe("hello there, how are you?");
  });

  it("links http, https and mailto addresses, showing them as written", () => {
    const div = render("see http://example.com/a?b=1#c or https://example.org and mailto:bob@example.com please");
    expect(links(div)).toEqual([
      { text: "http://example.com/a?b=1#c", href: "http://example.com/a?b=1#c", dataHref: "http://example.com/a?b=1#c", title: "http://example.com/a?b=1#c" },
      { text: "https://example.org", href: "https://example.org/", dataHref: "https://example.org/", title: "https://example.org/" },
      { text: "mailto:bob@example.com", href: "mailto:bob@example.com", dataHref: "mailto:bob@example.com", title: "mailto:bob@example.com" },
    ]);
    const a = div.querySelector("a");
    expect(a?.className).toBe("link");
    expect(a?.rel).toBe("noopener noreferrer");
    expect(div.textContent).toBe("see http://example.com/a?b=1#c or https://example.org and mailto:bob@example.com please");
  });

  it("shows a look-alike host as written but puts its punycode in the tooltip", () => {
    const div = render("https://exаmple.com/login");
    const [link] = links(div);
    expect(link?.text).toBe("https://exаmple.com/login");
    expect(link?.title).toMatch(/^https:\/\/xn--/);
  });

  it("a javascript: link is plain text", () => {
    const div = render("click javascript:alert(1) now");
    expect(div.querySelector("a")).toBeNull();
    expect(div.textContent).toBe("click javascript:alert(1) now");
  });

  it("a javascript: link hidden behind an allowed scheme's name is plain text", () => {
    const div = render("javascript://https://example.com/%0aalert(1)");
    expect(links(div).map((l) => l.href)).toEqual(["https://example.com/%0aalert(1)"]);
  });

  it("data:, file:, ftp: and addresses without a scheme are plain text", () => {
    const text = "data:text/html,<script>alert(1)</script> file:///etc/passwd ftp://example.com www.example.com vbscript:msgbox";
    const div = render(text);
    expect(div.querySelector("a")).toBeNull();
    expect(div.querySelector("script")).toBeNull();
    expect(div.textContent).toBe(text);
  });

  it("a scheme glued to a word is not a link", () => {
    expect(render("xhttps://example.com").querySelector("a")).toBeNull();
  });

  it("an address with nothing after the scheme is plain text", () => {
    expect(render("https:// and mailto: and http://").querySelector("a")).toBeNull();
  });

  it("leaves sentence punctuation after a link out of it", () => {
    for (const [text, url] of [
      ["Go to https://example.com.", "https://example.com"],
      ["https://example.com/a, then", "https://example.com/a"],
      ["is it https://example.com/x?", "https://example.com/x"],
      ["wow https://example.com/!", "https://example.com/"],
      ["https://example.com/a;", "https://example.com/a"],
      ["https://example.com/a:", "https://example.com/a"],
      ["'https://example.com/q'", "https://example.com/q"],
    ] as const) {
      const div = render(text);
      expect(links(div).map((l) => l.text), text).toEqual([url]);
      expect(div.textContent, text).toBe(text);
    }
  });

  it("keeps balanced parentheses in a link and drops an unbalanced closing one", () => {
    expect(links(render("https://en.wikipedia.org/wiki/Foo_(bar)")).map((l) => l.text)).toEqual(["https://en.wikipedia.org/wiki/Foo_(bar)"]);
    expect(links(render("(see https://example.com/a)")).map((l) => l.text)).toEqual(["https://example.com/a"]);
    expect(links(render("(see https://en.wikipedia.org/wiki/Foo_(bar)).")).map((l) => l.text)).toEqual(["https://en.wikipedia.org/wiki/Foo_(bar)"]);
    expect(links(render("[https://example.com/b]")).map((l) => l.text)).toEqual(["https://example.com/b"]);
  });

  it("ends a link at quotes, angle brackets and invisible characters", () => {
    expect(links(render('"https://example.com/a" <https://example.com/b>')).map((l) => l.text)).toEqual(["https://example.com/a", "https://example.com/b"]);
    // A right-to-left override inside an address would make the shown text lie about it.
    const div = render("https://example.com/\u202Egpj.exe");
    expect(links(div).map((l) => l.text)).toEqual(["https://example.com/"]);
    expect(div.textContent).toBe("https://example.com/\u202Egpj.exe");
  });

  it("a hostile link text injects no element", () => {
    const text = 'https://x.y/"><img src=x onerror=alert(1)>';
    const div = render(text);
    expect(div.querySelector("img")).toBeNull();
    expect(tags(div)).toEqual(["a"]);
    expect(links(div).map((l) => l.text)).toEqual(["https://x.y/"]);
    expect(div.textContent).toBe(text);
  });

  it("a hostile link's quotes cannot break out of its attributes", () => {
    const div = render("https://x.y/'onmouseover='alert(1)");
    const a = div.querySelector("a");
    expect(a?.getAttribute("onmouseover")).toBeNull();
    expect([...(a?.attributes ?? [])].map((at) => at.name).sort()).toEqual(["class", "data-href", "href", "rel", "title"]);
  });

  it("html in a message is shown as text", () => {
    const text = "<b>hi</b> <script>alert(1)</script> <a href=\"javascript:alert(1)\">x</a> &amp; &lt;";
    const div = render(text);
    expect(div.querySelector("b, script, a, img")).toBeNull();
    expect(div.textContent).toBe(text);
  });

  it("html inside code is shown as text", () => {
    const div = render("`<b>x</b>` and ```\n<img src=x onerror=alert(1)>\n```");
    expect(div.querySelector("b, img")).toBeNull();
    expect(tags(div)).toEqual(["code", "pre", "code"]);
    expect(div.querySelector(".inline-code")?.textContent).toBe("<b>x</b>");
    expect(div.querySelector(".code-block code")?.textContent).toBe("<img src=x onerror=alert(1)>");
  });

  it("renders inline code spans", () => {
    const div = render("run `npm test` then `make lint`, not ` ` or `unclosed");
    expect([...div.querySelectorAll("code.inline-code")].map((c) => c.textContent)).toEqual(["npm test", "make lint", " "]);
    expect(div.textContent).toBe("run npm test then make lint, not   or `unclosed");
  });

  it("does not let inline code span lines", () => {
    const div = render("a `b\nc` d");
    expect(div.querySelector("code")).toBeNull();
    expect(div.textContent).toBe("a `b\nc` d");
  });

  it("does not link inside code", () => {
    const div = render("`https://example.com` ```\nhttps://example.org\n```");
    expect(div.querySelector("a")).toBeNull();
    expect(div.querySelectorAll("code")).toHaveLength(2);
  });

  it("links around code", () => {
    const div = render("https://a.example `x` https://b.example");
    expect(links(div).map((l) => l.text)).toEqual(["https://a.example", "https://b.example"]);
  });

  it("renders a fenced block with a language", () => {
    const div = render("look:\n```ts\nconst x = 1;\n  indented\n```\nafter");
    const pre = div.querySelector<HTMLElement>("pre.code-block");
    expect(pre?.dataset.lang).toBe("ts");
    expect(pre?.querySelector("code")?.textContent).toBe("const x = 1;\n  indented");
    expect(pre?.tabIndex).toBe(0);
    expect(div.firstChild?.textContent).toBe("look:\n");
    expect(div.lastChild?.textContent).toBe("after");
  });

  it("renders a fenced block without a language", () => {
    const div = render("```\nplain code\n```");
    const pre = div.querySelector<HTMLElement>("pre.code-block");
    expect(pre?.dataset.lang).toBeUndefined();
    expect(pre?.textContent).toBe("plain code");
    expect(div.childNodes).toHaveLength(1);
  });

  it("renders a one-line fenced block, whose first word is code, not a language", () => {
    const div = render("```echo hi```");
    expect(div.querySelector<HTMLElement>("pre")?.dataset.lang).toBeUndefined();
    expect(div.querySelector("pre")?.textContent).toBe("echo hi");
  });

  it("keeps inline marks inside a fenced block as text", () => {
    const div = render("```\nuse `x` here\n```");
    expect(div.querySelectorAll("code")).toHaveLength(1);
    expect(div.querySelector("pre code")?.textContent).toBe("use `x` here");
  });

  it("leaves an unclosed fence as text", () => {
    const div = render("```\nnot closed");
    expect(div.querySelector("pre")).toBeNull();
    expect(div.textContent).toBe("```\nnot closed");
  });

  it("a message of thousands of links or code spans stays a bounded number of elements", () => {
    for (const text of ["https://a.example ".repeat(1000) + "end", "`a` ".repeat(1000) + "end", "```x``` ".repeat(1000) + "end"]) {
      const div = render(text);
      expect(div.querySelectorAll("a, code, pre").length, text.slice(0, 10)).toBeLessThanOrEqual(MAX_MARKS * 2);
      expect(div.querySelectorAll("a, .inline-code, pre").length, text.slice(0, 10)).toBe(MAX_MARKS);
      expect(div.textContent?.endsWith("end")).toBe(true);
    }
  });

  it("stays fast on hostile input", () => {
    const started = performance.now();
    for (const text of ["https://x.y/" + ")".repeat(50_000), "`".repeat(50_000), "`a".repeat(25_000), "https://".repeat(10_000), "```".repeat(20_000)]) render(text);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("safeHref", () => {
  it("accepts only http, https and mailto", () => {
    expect(safeHref("https://example.com")).toBe("https://example.com/");
    expect(safeHref("HTTP://EXAMPLE.COM/A")).toBe("http://example.com/A");
    expect(safeHref("mailto:a@b.c")).toBe("mailto:a@b.c");
    for (const bad of ["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "ftp://example.com", "about:blank", "blob:https://x/y", "not a url"]) {
      expect(safeHref(bad), bad).toBeNull();
    }
  });
});
