/**
 * The one reader of stack config (components/config/stackFile.ts): the file's text, and the split of
 * `sectorwars:*` entries into plain values and secret keys that the program, the CLIs and the
 * tests all use.
 */
import { describe, expect, it } from "vitest";
import { PROJECT_DIR, parseStackFile, platformEntries, readStackFileText } from "../components/config/stackFile";
import { ROOT } from "./support/pulumi";

describe("stack file", () => {
  it("parses the config map of a stack file's text, values as written", () => {
    const text = [
      "config:",
      "  sectorwars:environment: dev",
      "  sectorwars:host: {cpus: 4, memoryGb: 8}",
      "  sectorwars:tlsCertificate:",
      "    secure: v1:abc",
      "  docker:host: ssh://ops@game-host",
      "",
    ].join("\n");
    expect(parseStackFile(text)).toEqual({
      "sectorwars:environment": "dev",
      "sectorwars:host": { cpus: 4, memoryGb: 8 },
      "sectorwars:tlsCertificate": { secure: "v1:abc" },
      "docker:host": "ssh://ops@game-host",
    });
  });

  it("reads an empty file or one without config as no config, and refuses text that is not YAML", () => {
    expect(parseStackFile("")).toEqual({});
    expect(parseStackFile("encryptionsalt: x\n")).toEqual({});
    expect(() => parseStackFile("config: [unclosed\n")).toThrow();
  });

  it("splits sectorwars:* entries into plain values and the secret keys set, leaving other namespaces out", () => {
    expect(
      platformEntries({
        "sectorwars:environment": "prod",
        "sectorwars:paypalClientId": { secure: "v1:x" },
        "docker:host": "ssh://ops@game-host",
        "sectorwars:regions": [{ id: "a" }],
        "sectorwars:tlsPrivateKey": "plain-by-mistake",
      }),
    ).toEqual({
      raw: { environment: "prod", regions: [{ id: "a" }] },
      secretKeys: ["paypalClientId", "tlsPrivateKey"],
    });
  });

  it("reads Pulumi.<stack>.yaml from the project directory unless told another", () => {
    expect(PROJECT_DIR).toBe(ROOT);
    expect(readStackFileText("dev")).toContain("sectorwars:environment: dev");
    expect(() => readStackFileText("dev", { dir: "/nonexistent" })).toThrow(/ENOENT/);
  });
});
