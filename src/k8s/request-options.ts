// Per-request options for @kubernetes/client-node calls. client-node sets no deadline of its own,
// so every call the daemon makes carries a signal that bounds it.

import {
  Observable,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";

/** Middleware that sets the request's abort signal and, when given, its Content-Type (client-node
 * picks JSON Patch for PATCH by default). */
export function requestMiddleware(contentType: string | undefined, signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (context: RequestContext) => {
      if (contentType !== undefined) context.setHeaderParam("Content-Type", contentType);
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
}

/** The second argument of a client-node call: bounded by `signal`. */
export function withSignal(signal: AbortSignal, contentType?: string): { middleware: ObservableMiddleware[] } {
  return { middleware: [requestMiddleware(contentType, signal)] };
}
