import { describe, expect, it } from "vitest";
import { addressLine, normaliseName, usernameProblem } from "./compose";

describe("addressLine", () => {
  it("reads @user and the body, normalised like the original client", () => {
    expect(addressLine("  @Bob   hello there ", null)).toEqual({ ok: true, to: "bob", body: "hello there" });
    expect(addressLine("@ALICE multi\nline", null)).toEqual({ ok: true, to: "alice", body: "multi\nline" });
  });

  it("sends plain text to the open conversation", () => {
    expect(addressLine("hi", "carol")).toEqual({ ok: true, to: "carol", body: "hi" });
    expect(addressLine("@dave hi", "carol")).toEqual({ ok: true, to: "dave", body: "hi" });
  });

  it("explains what is wrong", () => {
    expect(addressLine("hello", null)).toEqual({ ok: false, error: 'start with @name, e.g. "@bob hello"' });
    expect(addressLine("@bob", null)).toEqual({ ok: false, error: "the message to @bob is empty" });
    expect(addressLine("@b*b hi", null)).toMatchObject({ ok: false, error: expect.stringContaining('"*"') });
    expect(addressLine("@ hi", null)).toMatchObject({ ok: false, error: "a username is required" });
    expect(addressLine("   ", "bob")).toMatchObject({ ok: false });
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
