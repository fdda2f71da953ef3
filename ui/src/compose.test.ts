import { describe, expect, it } from "vitest";
import { normaliseName, readLine, readTarget, usernameProblem } from "./compose";

describe("readLine", () => {
  it("leaves @name and #room lines for the backend to address, opening the direct conversation", () => {
    expect(readLine("  @Bob   hello there ", null)).toEqual({ kind: "send", conversation: null, text: "@Bob   hello there", opens: "@bob" });
    expect(readLine("@ALICE multi\nline", null)).toEqual({ kind: "send", conversation: null, text: "@ALICE multi\nline", opens: "@alice" });
    expect(readLine("#team hello", "@bob")).toEqual({ kind: "send", conversation: null, text: "#team hello", opens: null });
  });

  it("sends other text to the open conversation, and everything typed in a room to the room", () => {
    expect(readLine("hi", "@carol")).toEqual({ kind: "send", conversation: "@carol", text: "hi", opens: null });
    expect(readLine("@dave hi", "@carol")).toMatchObject({ conversation: null, opens: "@dave" });
    expect(readLine("hi all", "~messages")).toEqual({ kind: "send", conversation: "~messages", text: "hi all", opens: null });
    // In a room a leading @name is a mention, and #other is just text.
    expect(readLine("@bob look at this", "#team")).toEqual({ kind: "send", conversation: "#team", text: "@bob look at this", opens: null });
    expect(readLine("#other is better", "#team")).toMatchObject({ conversation: "#team" });
  });

  it("reads /join, /leave and /who, and refuses unknown commands", () => {
    expect(readLine("/join #team", "@bob")).toEqual({ kind: "command", command: "join", arg: "#team" });
    expect(readLine("/leave", "#team")).toEqual({ kind: "command", command: "leave", arg: "" });
    expect(readLine("/WHO", null)).toEqual({ kind: "command", command: "who", arg: "" });
    expect(readLine("/join", null)).toEqual({ kind: "error", error: "usage: /join #room" });
    expect(readLine("/shrug", "#team")).toMatchObject({ kind: "error", error: expect.stringContaining('"/shrug"') });
  });

  it("explains what is wrong", () => {
    expect(readLine("hello", null)).toEqual({ kind: "error", error: 'start with @name or #room, e.g. "@bob hello"' });
    expect(readLine("@bob", null)).toEqual({ kind: "error", error: "the message to @bob is empty" });
    expect(readLine("#team", null)).toEqual({ kind: "error", error: "the message to #team is empty" });
    expect(readLine("# hi", null)).toEqual({ kind: "error", error: "a room name is required after #" });
    expect(readLine("@b*b hi", null)).toMatchObject({ kind: "error", error: expect.stringContaining('"*"') });
    expect(readLine("@ hi", null)).toMatchObject({ kind: "error", error: "a username is required" });
    expect(readLine("   ", "@bob")).toMatchObject({ kind: "error" });
  });
});

describe("readTarget", () => {
  it("joins #rooms and ~channels, opens @name and bare names", () => {
    expect(readTarget(" #team ")).toEqual({ kind: "join", name: "#team" });
    expect(readTarget("~messages")).toEqual({ kind: "join", name: "~messages" });
    expect(readTarget("@Bob")).toEqual({ kind: "direct", conversation: "@bob" });
    expect(readTarget("carol")).toEqual({ kind: "direct", conversation: "@carol" });
  });

  it("explains what is wrong", () => {
    expect(readTarget("#")).toMatchObject({ kind: "error" });
    expect(readTarget("#a team")).toEqual({ kind: "error", error: "a room name cannot contain spaces" });
    expect(readTarget("b?b")).toMatchObject({ kind: "error", error: expect.stringContaining('"?"') });
    expect(readTarget("")).toMatchObject({ kind: "error" });
  });
});

describe("username rule", () => {
  it("mirrors the core rule", () => {
    expect(normaliseName(" Alice ")).toBe("alice");
    expect(usernameProblem("alice")).toBeNull();
    expect(usernameProblem("ünï.code_1-2:x+y")).toBeNull();
    for (const bad of ["", "a b", "a?", "[a]", "a\\b", "a@b", "a,b", "a\u0007"]) {
      expect(usernameProblem(bad), JSON.stringify(bad)).not.toBeNull();
    }
    expect(usernameProblem("x".repeat(65))).toMatch(/at most 64/);
    expect(usernameProblem("x".repeat(64))).toBeNull();
  });
});
