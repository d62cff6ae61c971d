/**
 * The one error class of webdat: a stable `WEBDAT_ERR_*` code for programs and a message for humans.
 * Each package narrows `Code` to its own table (ProtocolError, CallbacksLoadError, EngineError), and
 * docs/errors.md explains every code.
 */
export class WebdatError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}
