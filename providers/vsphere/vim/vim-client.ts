// A vim25 session: the service content, login with the session cookie, and calls that log in
// again once when the server says the session is gone (it expires after idling, or an
// administrator ends it).
import { type MoRef, moref, morefXml, readMoRef } from "./moref.ts";
import { readEnvelope, requestEnvelope } from "./soap-envelope.ts";
import { SoapTransport } from "./soap-transport.ts";
import type { TlsTrust } from "./tls-trust.ts";
import { isFault, VimTransportError } from "./vim-fault.ts";
import { child, childText, type XmlElement } from "./xml-node.ts";
import { el, type Xml } from "./xml-write.ts";

export interface VimClientOptions {
  /** The SDK endpoint, e.g. https://vcenter.example.com/sdk. */
  readonly url: URL;
  readonly username: string;
  readonly password: string;
  readonly trust: TlsTrust;
  /** vim25 version named in SOAPAction; every call used here exists since 6.5. */
  readonly version?: string;
}

export interface ServiceContent {
  readonly rootFolder: MoRef;
  readonly propertyCollector: MoRef;
  readonly searchIndex: MoRef;
  readonly sessionManager: MoRef;
  /** "VirtualCenter" or "HostAgent" (a lone ESXi host). */
  readonly apiType: string;
  readonly apiVersion: string;
  readonly fullName: string;
}

export interface UserSession {
  readonly key: string;
  readonly userName: string;
}

interface Session extends UserSession {
  readonly cookie: string;
}

const COOKIE_NAME = "vmware_soap_session";

function required(node: XmlElement | undefined, name: string): MoRef {
  const ref = readMoRef(child(node, name));
  if (ref === undefined) throw new VimTransportError(`service content lacks ${name}`);
  return ref;
}

export class VimClient {
  readonly url: URL;
  readonly #options: VimClientOptions;
  readonly #transport: SoapTransport;
  readonly #soapAction: string;
  #content: Promise<ServiceContent> | undefined;
  #session: Session | undefined;
  #pendingLogin: Promise<Session> | undefined;
  #logins = 0;

  constructor(options: VimClientOptions) {
    this.url = options.url;
    this.#options = options;
    this.#transport = new SoapTransport(options.url, options.trust);
    this.#soapAction = `urn:vim25/${options.version ?? "6.5"}`;
  }

  /** How many logins this client made (the first and every renewal). */
  get logins(): number {
    return this.#logins;
  }

  /** The current session's key, once logged in. */
  get sessionKey(): string | undefined {
    return this.#session?.key;
  }

  /** RetrieveServiceContent, once per client; needs no session. */
  serviceContent(signal: AbortSignal): Promise<ServiceContent> {
    if (this.#content === undefined) {
      const pending = this.send(
        "RetrieveServiceContent",
        [morefXml("_this", moref("ServiceInstance", "ServiceInstance"))],
        undefined,
        signal,
      ).then((res) => {
        const sc = child(res.body, "returnval");
        const about = child(sc, "about");
        return {
          rootFolder: required(sc, "rootFolder"),
          propertyCollector: required(sc, "propertyCollector"),
          searchIndex: required(sc, "searchIndex"),
          sessionManager: required(sc, "sessionManager"),
          apiType: childText(about, "apiType") ?? "",
          apiVersion: childText(about, "apiVersion") ?? "",
          fullName: childText(about, "fullName") ?? "",
        };
      });
      // A failed attempt is not remembered: the next call asks again.
      pending.catch(() => {
        if (this.#content === pending) this.#content = undefined;
      });
      this.#content = pending;
    }
    return this.#content;
  }

  /** Logs in unless a session is open; concurrent callers share one login. */
  async login(signal: AbortSignal): Promise<UserSession> {
    const session = await this.ensureSession(signal);
    return { key: session.key, userName: session.userName };
  }

  /**
   * Calls a method that needs a session. `inspect` may throw (a NotAuthenticated fault hidden
   * in a result, for instance); like a fault, that triggers one new login and one retry.
   */
  async call(
    method: string,
    params: ReadonlyArray<Xml | undefined>,
    signal: AbortSignal,
    inspect?: (result: XmlElement) => void,
  ): Promise<XmlElement> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.ensureSession(signal);
      try {
        const { body } = await this.send(method, params, session.cookie, signal);
        inspect?.(body);
        return body;
      } catch (err) {
        if (attempt > 0 || !isFault(err, "NotAuthenticated")) throw err;
        if (this.#session === session) this.#session = undefined;
      }
    }
  }

  /** SessionManager.TerminateSession: ends other sessions of this server (an administrator's act). */
  async terminateSessions(keys: readonly string[], signal: AbortSignal): Promise<void> {
    const sc = await this.serviceContent(signal);
    await this.call(
      "TerminateSession",
      [morefXml("_this", sc.sessionManager), ...keys.map((k) => el("sessionId", k))],
      signal,
    );
  }

  /** Ends the session, if any. A session the server already forgot is fine. */
  async logout(signal: AbortSignal): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined) return;
    const sc = await this.serviceContent(signal);
    try {
      await this.send("Logout", [morefXml("_this", sc.sessionManager)], session.cookie, signal);
    } catch (err) {
      if (!isFault(err, "NotAuthenticated")) throw err;
    }
  }

  /** Closes idle connections; the client must not be used afterwards. */
  close(): void {
    this.#transport.close();
  }

  private ensureSession(signal: AbortSignal): Promise<Session> {
    if (this.#session !== undefined) return Promise.resolve(this.#session);
    if (this.#pendingLogin === undefined) {
      const pending = this.doLogin(signal).finally(() => {
        if (this.#pendingLogin === pending) this.#pendingLogin = undefined;
      });
      this.#pendingLogin = pending;
    }
    return this.#pendingLogin;
  }

  private async doLogin(signal: AbortSignal): Promise<Session> {
    const sc = await this.serviceContent(signal);
    const params = [
      morefXml("_this", sc.sessionManager),
      el("userName", this.#options.username),
      el("password", this.#options.password),
    ];
    const res = await this.send("Login", params, undefined, signal);
    const cookie = res.cookies.map((c) => c.split(";")[0]!.trim()).find((c) => c.startsWith(`${COOKIE_NAME}=`));
    if (cookie === undefined)
      throw new VimTransportError(`Login at ${this.url.origin} answered without a ${COOKIE_NAME} cookie`);
    const returned = child(res.body, "returnval");
    const session: Session = {
      cookie,
      key: childText(returned, "key") ?? "",
      userName: childText(returned, "userName") ?? this.#options.username,
    };
    this.#session = session;
    this.#logins++;
    return session;
  }

  private async send(
    method: string,
    params: ReadonlyArray<Xml | undefined>,
    cookie: string | undefined,
    signal: AbortSignal,
  ): Promise<{ body: XmlElement; cookies: readonly string[] }> {
    const res = await this.#transport.post(this.#soapAction, requestEnvelope(method, params), cookie, signal);
    if (res.status !== 200 && res.status !== 500) {
      const hint = res.status === 404 ? ` (is ${this.url.href} a vSphere SDK endpoint? it usually ends in /sdk)` : "";
      throw new VimTransportError(`${method}: ${this.url.origin} answered HTTP ${res.status}${hint}`, {
        status: res.status,
      });
    }
    let answer;
    try {
      answer = readEnvelope(method, res.body);
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      throw new VimTransportError(
        `${method}: ${this.url.origin} answered HTTP ${res.status} without a SOAP answer: ${err.message}`,
        { status: res.status, cause: err },
      );
    }
    if (answer.kind === "fault") throw answer.error;
    return { body: answer.body, cookies: res.cookies };
  }
}
