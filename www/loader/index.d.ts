/**
 * aidlink: binds the RTB House visitor id (`__r_aid_v__` / `__rtbh.aid`) to the Calltouch session, hands it to
 * Calltouch and sends the binding to your aidlink relay, once per session and id.
 */

/** Options of {@link start}: the script tag's `data-*` attributes, in camelCase. */
export interface AidlinkOptions {
  /** Calltouch site id (the numeric account id). Required. */
  site: string | number;
  /** Calltouch `mod_id`, for `ct('calltracking_params', modId)`. Default: other session sources. */
  modId?: string;
  /** Where bindings are POSTed. Default: this page's origin + `/v1/bindings`. */
  endpoint?: string;
  /**
   * RTB House cookie name(s): one name, a comma-separated list or an array; the first that holds
   * an id wins. A value is the id itself or the JSON form the current RTB House tags write
   * (`__rtbh.aid`). Default `["__r_aid_v__", "__rtbh.aid"]`.
   */
  cookie?: string | string[];
  /** Key used in `ct('set_attrs', …)`. Default `"__r_aid_v__"`. */
  attrKey?: string;
  /** Also hand the id to Calltouch with `ct('set_attrs', …)`. Default `true`. */
  setAttrs?: boolean;
  /** `"pending"` waits for `grantConsent()`. Default `"granted"`. */
  consent?: "granted" | "pending";
  /** Log each step to the console. Default `false`. */
  debug?: boolean;
}

/** What {@link AidlinkHandle.status} returns. */
export interface AidlinkStatus {
  /** Where aidlink is. `failed`: bad options (see `lastError`) or the module could not load. */
  state: "loading" | "consent_pending" | "waiting" | "bound" | "stopped" | "denied" | "failed";
  /** The RTB House id is known. */
  cookie: boolean;
  /** The Calltouch session is known. */
  session: boolean;
  /** Bindings delivered from this page. */
  sent: number;
  /** The last problem, if any. */
  lastError: string | null;
}

/** The handle, also available as `window.aidlink`. */
export interface AidlinkHandle {
  /** Consent was given: start reading and sending (with `consent: "pending"`). */
  grantConsent(): void;
  /** Consent was refused: stop everything and clear what aidlink stored. */
  denyConsent(): void;
  /** Stop watching and sending. */
  stop(): void;
  /** A plain object describing the current state. */
  status(): AidlinkStatus;
}

/**
 * Starts aidlink on this page and resolves to its handle (the same object as
 * `window.aidlink`; a second call, or a page that already has the script tag, gets the
 * existing one). Bad options log one `console.error` naming the field and resolve to a handle
 * whose `status().state` is `"failed"`. Outside a browser (Node, SSR) it rejects.
 */
export function start(options: AidlinkOptions): Promise<AidlinkHandle>;

declare global {
  interface Window {
    /** The aidlink handle (script tag or npm). */
    aidlink?: AidlinkHandle;
  }
}
