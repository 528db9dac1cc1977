/**
 * @module trace/ctf/metadata/tsdl-lexer
 * Tokenizer for TSDL (CTF 1.8 metadata text): identifiers, integer literals (decimal, octal, hex, U/L suffixes),
 * string and character literals, punctuation (`:=`, `...` and single characters). Comments, whitespace and NUL
 * padding are skipped. Positions are UTF-16 indexes into the text.
 *
 * Tokens are produced on demand (`Lexer.next`) so they die young: a 300 KB LTTng kernel metadata text has ~80,000.
 */

export type TokenKind = 'id' | 'int' | 'str' | 'chr' | 'p' | 'eof';

export interface Token {
  k: TokenKind;
  /** Identifier name, punctuation, decoded string/char literal, or the integer literal as written. */
  v: string;
  pos: number;
  end: number;
}

/** A syntax error at a text position; the parser turns it into a TraceError. */
export class TsdlSyntaxError extends Error {
  constructor(
    readonly pos: number,
    message: string,
  ) {
    super(message);
  }
}

const ID_REST = /[A-Za-z0-9_]*/y;
const HEX_REST = /[0-9a-fA-F]*/y;
const DEC_REST = /[0-9]*/y;
const SUFFIX = /[uUlL]*/y;
const ID_PART = /[A-Za-z0-9_]/;
const PUNCT = new Set('{}()[];,=:.<>-+*');

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
  '?': '?',
};

function unescape(body: string, pos: number): string {
  if (!body.includes('\\')) return body;
  return body.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, e: string, at: number) => {
    if (e[0] === 'x' && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    const r = ESCAPES[e];
    if (r === undefined) throw new TsdlSyntaxError(pos + 1 + at, `unknown escape sequence '\\${e}'`);
    return r;
  });
}

/**
 * The value of an integer literal token (decimal, `0x` hex, `0` octal; U/L suffixes ignored): a number when exact,
 * else a bigint (metadata has thousands of small literals; bigints are only needed for 64-bit values).
 */
export function intOf(t: Token): number | bigint {
  let s = t.v;
  let e = s.length;
  while (e > 1 && /[uUlL]/.test(s[e - 1]!)) e--;
  if (e !== s.length) s = s.slice(0, e);
  let radix = 10;
  let digits = s;
  if (s.length > 1 && s.charCodeAt(0) === 48 /* 0 */) {
    const x = s[1];
    radix = x === 'x' || x === 'X' ? 16 : 8;
    digits = s.slice(radix === 16 ? 2 : 1);
  }
  const n = parseInt(digits, radix);
  if (Number.isSafeInteger(n)) return n;
  return BigInt((radix === 16 ? '0x' : radix === 8 ? '0o' : '') + digits);
}

/** Scans with a sticky regex from `from`; returns where the match ends. */
function scan(re: RegExp, text: string, from: number): number {
  re.lastIndex = from;
  re.test(text);
  return re.lastIndex;
}

export class Lexer {
  private i = 0;
  constructor(private readonly text: string) {}

  /** Continues lexing at `pos` (the parser skips an attribute block it has already seen verbatim). */
  seek(pos: number): void {
    this.i = pos;
  }

  next(): Token {
    const text = this.text;
    const n = text.length;
    let i = this.i;
    for (;;) {
      if (i >= n) {
        this.i = i;
        return { k: 'eof', v: '', pos: n, end: n };
      }
      const c = text.charCodeAt(i);
      // Whitespace and NUL padding.
      if (c === 32 || c === 10 || c === 9 || c === 13 || c === 0 || c === 11 || c === 12) {
        i++;
        continue;
      }
      if (c === 47 /* / */) {
        const d = text.charCodeAt(i + 1);
        if (d === 42 /* * */) {
          const e = text.indexOf('*/', i + 2);
          if (e < 0) throw new TsdlSyntaxError(i, 'unterminated comment');
          i = e + 2;
          continue;
        }
        if (d === 47) {
          const e = text.indexOf('\n', i + 2);
          i = e < 0 ? n : e + 1;
          continue;
        }
      }
      break;
    }
    const start = i;
    const c = text.charCodeAt(i);
    let tok: Token;
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95) {
      const end = scan(ID_REST, text, i + 1);
      tok = { k: 'id', v: text.slice(start, end), pos: start, end };
    } else if (c >= 48 && c <= 57) {
      let end: number;
      const x = text.charCodeAt(i + 1);
      if (c === 48 && (x === 120 || x === 88)) {
        end = scan(HEX_REST, text, i + 2);
        if (end === i + 2) throw new TsdlSyntaxError(start, 'hexadecimal literal without digits');
      } else {
        end = scan(DEC_REST, text, i + 1);
        if (c === 48 && end > i + 1 && /[89]/.test(text.slice(i + 1, end))) {
          throw new TsdlSyntaxError(start, `invalid octal literal '${text.slice(start, end)}'`);
        }
      }
      end = scan(SUFFIX, text, end);
      if (end < n && ID_PART.test(text[end]!)) {
        throw new TsdlSyntaxError(start, `invalid integer literal '${text.slice(start, end + 1)}'`);
      }
      tok = { k: 'int', v: text.slice(start, end), pos: start, end };
    } else if (c === 34 /* " */ || c === 39 /* ' */) {
      const q = text[i]!;
      let j = i + 1;
      for (;;) {
        const ch = text[j];
        if (ch === undefined || ch === '\n') {
          throw new TsdlSyntaxError(start, `unterminated ${q === '"' ? 'string' : 'character'} literal`);
        }
        if (ch === q) break;
        j += ch === '\\' ? 2 : 1;
      }
      const end = j + 1;
      tok = { k: q === '"' ? 'str' : 'chr', v: unescape(text.slice(i + 1, j), start), pos: start, end };
    } else if (c === 46 /* . */ && text.startsWith('...', i)) {
      tok = { k: 'p', v: '...', pos: start, end: i + 3 };
    } else if (c === 58 /* : */ && text.charCodeAt(i + 1) === 61 /* = */) {
      tok = { k: 'p', v: ':=', pos: start, end: i + 2 };
    } else if (PUNCT.has(text[i]!)) {
      tok = { k: 'p', v: text[i]!, pos: start, end: i + 1 };
    } else {
      throw new TsdlSyntaxError(i, `unexpected character ${JSON.stringify(text[i])}`);
    }
    this.i = tok.end;
    return tok;
  }
}

/** How a token is named in error messages. */
export function describeToken(t: Token): string {
  switch (t.k) {
    case 'eof':
      return 'end of text';
    case 'str':
      return `string ${JSON.stringify(t.v)}`;
    case 'chr':
      return `character '${t.v}'`;
    case 'int':
      return `integer ${t.v}`;
    default:
      return `'${t.v}'`;
  }
}
