// The vim25 client against govmomi's simulator: sessions (login, refused login, renewal after
// the server ended the session), every call the provider makes, task faults, TLS trust modes,
// and deadlines.
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVcsim, type Vcsim } from "../../test/support/vcsim.ts";
import {
  cloneVm,
  destroyVm,
  findByInventoryPath,
  isFault,
  type MoRef,
  powerOffVm,
  powerOnVm,
  readBoolean,
  readNumber,
  readOptionValues,
  readRef,
  readString,
  reconfigVm,
  retrieveObject,
  retrieveProperties,
  type TlsTrust,
  VimClient,
  VimFault,
  VimTransportError,
  waitForTask,
} from "./vim/index.ts";

let sim: Vcsim;
const clients: VimClient[] = [];

beforeAll(async () => {
  sim = await startVcsim();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await sim?.stop();
});

const deadline = (ms = 15_000): AbortSignal => AbortSignal.timeout(ms);

function client(options: { password?: string; trust?: TlsTrust; url?: string } = {}): VimClient {
  const c = new VimClient({
    url: new URL(options.url ?? sim.url),
    username: sim.username,
    password: options.password ?? sim.password,
    trust: options.trust ?? { mode: "pin", thumbprint: sim.thumbprint },
  });
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("call unexpectedly succeeded");
}

async function vmProps(c: VimClient, vm: MoRef, paths: string[]) {
  const found = await retrieveObject(c, vm, paths, deadline());
  if (found === undefined) throw new Error(`${vm.value} is gone`);
  return found.props;
}

describe("vim25 sessions", () => {
  it("reads the service content and logs in with a session cookie", async () => {
    const c = client();
    const sc = await c.serviceContent(deadline());
    expect(sc.apiType).toBe("VirtualCenter");
    expect(sc.searchIndex.type).toBe("SearchIndex");
    const session = await c.login(deadline());
    expect(session.userName).toBe(sim.username);
    expect(c.sessionKey).toBe(session.key);
    expect(c.logins).toBe(1);
    // A call needing a session works, and does not log in again.
    expect(await findByInventoryPath(c, "DC0", deadline())).toEqual({ type: "Datacenter", value: expect.any(String) });
    expect(c.logins).toBe(1);
  });

  it("reports a refused login as the InvalidLogin fault", async () => {
    const err = await failure(client({ password: "wrong" }).login(deadline()));
    expect(err).toBeInstanceOf(VimFault);
    expect((err as VimFault).faultName).toBe("InvalidLogin");
    expect(err.message).toContain("Login");
  });

  it("logs in again, once, when the server has ended the session", async () => {
    const a = client();
    const admin = client();
    const first = await a.login(deadline());
    await admin.terminateSessions([first.key], deadline());

    // A method call answered with a NotAuthenticated fault.
    expect(await findByInventoryPath(a, "DC0/vm", deadline())).toMatchObject({ type: "Folder" });
    expect(a.logins).toBe(2);
    expect(a.sessionKey).not.toBe(first.key);

    // The property collector answers an unknown session with per-property NotAuthenticated
    // faults instead: the client must see through that too.
    await admin.terminateSessions([a.sessionKey!], deadline());
    const dc = (await findByInventoryPath(admin, "DC0", deadline()))!;
    const props = await vmProps(a, dc, ["name"]);
    expect(readString(props.get("name"))).toBe("DC0");
    expect(a.logins).toBe(3);
  });

  it("logs out; a later call logs in afresh", async () => {
    const c = client();
    const first = await c.login(deadline());
    await c.logout(deadline());
    expect(c.sessionKey).toBeUndefined();
    await c.logout(deadline()); // nothing to end: fine
    expect(await findByInventoryPath(c, "DC0", deadline())).toMatchObject({ type: "Datacenter" });
    expect(c.logins).toBe(2);
    expect(c.sessionKey).not.toBe(first.key);
  });
});

describe("vim25 calls", () => {
  it("finds objects by inventory path, and nothing where there is nothing", async () => {
    const c = client();
    expect(await findByInventoryPath(c, "/DC0/vm/podvm-template", deadline())).toMatchObject({
      type: "VirtualMachine",
    });
    expect(await findByInventoryPath(c, "DC0/datastore/LocalDS_0", deadline())).toMatchObject({ type: "Datastore" });
    expect(await findByInventoryPath(c, "DC0/vm/no-such-vm", deadline())).toBeUndefined();
  });

  it("collects properties through a traversal spec", async () => {
    const c = client();
    const dc = (await findByInventoryPath(c, "DC0", deadline()))!;
    const hostFolder = readRef((await vmProps(c, dc, ["hostFolder"])).get("hostFolder"))!;
    const found = await retrieveProperties(
      c,
      [{ type: "ComputeResource", pathSet: ["name", "resourcePool"] }],
      [{ obj: hostFolder, skip: true, selectSet: [{ name: "children", type: "Folder", path: "childEntity" }] }],
      deadline(),
    );
    expect(found.map((o) => readString(o.props.get("name")))).toEqual(["DC0_C0"]);
    expect(readRef(found[0]!.props.get("resourcePool"))).toMatchObject({ type: "ResourcePool" });
  });

  it("clones, reconfigures, powers on and off and destroys a VM, awaiting each task", async () => {
    const c = client();
    const template = (await findByInventoryPath(c, "DC0/vm/podvm-template", deadline()))!;
    const folder = (await findByInventoryPath(c, "DC0/vm", deadline()))!;
    const pool = (await findByInventoryPath(c, "DC0/host/DC0_C0/Resources", deadline()))!;
    const datastore = (await findByInventoryPath(c, "DC0/datastore/LocalDS_0", deadline()))!;
    expect(readBoolean((await vmProps(c, template, ["config.template"])).get("config.template"))).toBe(true);

    // Markup and quotes in values must survive the round trip unchanged.
    const tricky = `<a href="x">&amp; 'quoted' </a>\u00e9\r\n`;
    const cloneTask = await cloneVm(
      c,
      template,
      folder,
      "client-test-vm",
      {
        location: { datastore, pool },
        template: false,
        powerOn: false,
        config: { extraConfig: [{ key: "peerpods.test", value: tricky }] },
      },
      deadline(),
    );
    const vm = readRef(await waitForTask(c, cloneTask, "CloneVM_Task", deadline()))!;
    expect(vm.type).toBe("VirtualMachine");
    let props = await vmProps(c, vm, ["name", "runtime.powerState", "config.extraConfig"]);
    expect(readString(props.get("name"))).toBe("client-test-vm");
    expect(readString(props.get("runtime.powerState"))).toBe("poweredOff");
    expect(readOptionValues(props.get("config.extraConfig")).get("peerpods.test")).toBe(tricky);

    await waitForTask(
      c,
      await reconfigVm(
        c,
        vm,
        { numCPUs: 3, memoryMB: 1536, extraConfig: [{ key: "peerpods.test", value: "second" }] },
        deadline(),
      ),
      "ReconfigVM_Task",
      deadline(),
    );
    props = await vmProps(c, vm, ["config.hardware.numCPU", "config.hardware.memoryMB", "config.extraConfig"]);
    expect(readNumber(props.get("config.hardware.numCPU"))).toBe(3);
    expect(readNumber(props.get("config.hardware.memoryMB"))).toBe(1536);
    expect(readOptionValues(props.get("config.extraConfig")).get("peerpods.test")).toBe("second");

    await waitForTask(c, await powerOnVm(c, vm, deadline()), "PowerOnVM_Task", deadline());
    expect(readString((await vmProps(c, vm, ["runtime.powerState"])).get("runtime.powerState"))).toBe("poweredOn");

    // A task that fails: destroying a powered-on VM.
    const err = await failure(waitForTask(c, await destroyVm(c, vm, deadline()), "Destroy_Task", deadline()));
    expect(err).toBeInstanceOf(VimFault);
    expect(err).toMatchObject({ faultName: "InvalidPowerState", method: "Destroy_Task" });
    expect((err as VimFault).properties).toMatchObject({ existingState: "poweredOn", requestedState: "poweredOff" });
    expect(err.message).toMatch(/^Destroy_Task: InvalidPowerState \(.*existingState=poweredOn/);

    await waitForTask(c, await powerOffVm(c, vm, deadline()), "PowerOffVM_Task", deadline());
    await waitForTask(c, await destroyVm(c, vm, deadline()), "Destroy_Task", deadline());
    expect(await retrieveObject(c, vm, ["name"], deadline())).toBeUndefined();
    expect(await findByInventoryPath(c, "DC0/vm/client-test-vm", deadline())).toBeUndefined();

    // A method on an object that no longer exists is a fault of the call itself.
    const gone = await failure(powerOnVm(c, vm, deadline()));
    expect(isFault(gone, "ManagedObjectNotFound")).toBe(true);
  });
});

describe("vim25 TLS trust", () => {
  it("accepts the pinned thumbprint in SHA-1 form with or without colons", async () => {
    const bare = sim.thumbprint.replaceAll(":", "").toLowerCase();
    expect((await client({ trust: { mode: "pin", thumbprint: bare } }).serviceContent(deadline())).apiType).toBe(
      "VirtualCenter",
    );
  });

  it("refuses a certificate whose thumbprint differs from the pinned one, naming both", async () => {
    const wrong = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33";
    const err = await failure(client({ trust: { mode: "pin", thumbprint: wrong } }).serviceContent(deadline()));
    expect(err).toBeInstanceOf(VimTransportError);
    expect(err.message).toContain(sim.thumbprint);
    expect(err.message).toContain(wrong);
  });

  it("checks the chain by default (the simulator's certificate is self-signed) and skips it when insecure", async () => {
    const err = await failure(client({ trust: { mode: "verify" } }).serviceContent(deadline()));
    expect(err).toBeInstanceOf(VimTransportError);
    expect(err.message).toMatch(/TLS handshake with 127\.0\.0\.1:\d+ failed/);
    expect((await client({ trust: { mode: "insecure" } }).serviceContent(deadline())).apiType).toBe("VirtualCenter");
  });
});

describe("vim25 transport failures", () => {
  it("names an endpoint that is not the SDK", async () => {
    const err = await failure(client({ url: new URL("/nosdk", sim.url).href }).serviceContent(deadline()));
    expect(err).toBeInstanceOf(VimTransportError);
    expect(err.message).toMatch(/HTTP 404.*\/sdk/);
  });

  it("names a server that cannot be reached", async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const err = await failure(client({ url: `https://127.0.0.1:${closed}/sdk` }).serviceContent(deadline()));
    expect(err).toBeInstanceOf(VimTransportError);
    expect(err.message).toMatch(new RegExp(`cannot reach https://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`));
  });

  it("stops at the deadline when the server never answers", async () => {
    const silent = net.createServer(() => {}); // accepts, never speaks
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      // The server never answers: only the deadline can end the call.
      const err = await failure(
        client({ url: `https://127.0.0.1:${port}/sdk` }).serviceContent(AbortSignal.timeout(300)),
      );
      expect(err.name).toBe("TimeoutError");
    } finally {
      silent.close();
    }
  });
});
