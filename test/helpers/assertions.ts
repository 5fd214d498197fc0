import { expect } from "vitest";
import { RpcError } from "../../src/client/index.js";

/** Resolves to the RpcError a call rejects with; fails the test if the call succeeds. */
export async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  }
  throw new Error("the call succeeded but an error was expected");
}
