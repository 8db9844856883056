export * from "./initdata.ts";
