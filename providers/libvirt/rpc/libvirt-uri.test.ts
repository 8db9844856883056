import { describe, expect, it } from "vitest";
import { parseLibvirtUri } from "./libvirt-uri.ts";
import { localSocketPath } from "./socket-transport.ts";
import { remoteCommand, sshCommand } from "./ssh-transport.ts";

describe("libvirt URIs", () => {
  it("opens the same URI remotely without transport, host and client parameters", () => {
    expect(parseLibvirtUri("qemu:///system")).toMatchObject({
      driver: "qemu",
      transport: "unix",
      path: "/system",
      remoteName: "qemu:///system",
    });
    expect(parseLibvirtUri("test:///default")).toMatchObject({
      driver: "test",
      transport: "unix",
      remoteName: "test:///default",
    });
    expect(parseLibvirtUri("qemu+unix:///system?socket=/tmp/s")).toMatchObject({
      transport: "unix",
      remoteName: "qemu:///system",
    });
    expect(parseLibvirtUri("qemu+tcp://h.example:1234/system")).toMatchObject({
      transport: "tcp",
      host: "h.example",
      port: 1234,
      remoteName: "qemu:///system",
    });
    const ssh = parseLibvirtUri("qemu+ssh://root@10.0.0.5:2222/system?keyfile=/k/id&no_verify=1&extra=x");
    expect(ssh).toMatchObject({
      transport: "ssh",
      user: "root",
      host: "10.0.0.5",
      port: 2222,
      remoteName: "qemu:///system?extra=x",
    });
    expect(parseLibvirtUri("qemu+ssh://h/system?name=qemu:///session").remoteName).toBe("qemu:///session");
  });

  it("names what it cannot do", () => {
    expect(() => parseLibvirtUri("qemu://host/system")).toThrow(/TLS/);
    expect(() => parseLibvirtUri("qemu+tls://host/system")).toThrow(/not supported/);
    expect(() => parseLibvirtUri("qemu+pigeon:///system")).toThrow(/unknown transport/);
    expect(() => parseLibvirtUri("qemu+ssh:///system")).toThrow(/needs a host/);
    expect(() => parseLibvirtUri("not a uri")).toThrow(/not a URI/);
  });

  it("finds the local socket like libvirt does", () => {
    expect(localSocketPath(parseLibvirtUri("qemu+unix:///system?socket=/x/y"))).toBe("/x/y");
    expect(localSocketPath(parseLibvirtUri("qemu:///session"), { XDG_RUNTIME_DIR: "/run/user/1000" })).toBe(
      "/run/user/1000/libvirt/libvirt-sock",
    );
    expect(localSocketPath(parseLibvirtUri("qemu:///system"))).toMatch(
      /^\/var\/run\/libvirt\/(libvirt|virtqemud)-sock$/,
    );
  });

  it("runs ssh with the URI's user, port, key and host-key policy, and a helper on the far side", () => {
    const { program, args } = sshCommand(
      parseLibvirtUri("qemu+ssh://me@h:2200/system?keyfile=/k&no_verify=1&known_hosts=/kh&no_tty=1"),
    );
    expect(program).toBe("ssh");
    expect(args.slice(0, -1)).toEqual([
      "-p",
      "2200",
      "-l",
      "me",
      "-i",
      "/k",
      "-T",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/kh",
      "-o",
      "BatchMode=yes",
      "-e",
      "none",
      "--",
      "h",
    ]);
    expect(args.at(-1)).toContain("virt-ssh-helper");
    expect(args.at(-1)).toContain("qemu:///system");
    expect(remoteCommand(parseLibvirtUri("qemu+ssh://h/system?socket=/s/sock"))).not.toContain("virt-ssh-helper");
    expect(remoteCommand(parseLibvirtUri("qemu+ssh://h/system?socket=/s/sock"))).toContain("-U '\\''/s/sock'\\''");
    expect(sshCommand(parseLibvirtUri("qemu+ssh://h/system?command=/opt/ssh")).program).toBe("/opt/ssh");
    expect(() => remoteCommand(parseLibvirtUri("qemu+ssh://h/system?proxy=bogus"))).toThrow(/proxy=bogus/);
  });
});
