/**
 * @module engine/onnx-proto
 * Serializes an ONNX ModelProto (graph, nodes, attributes, initializers, typed inputs/outputs with static shapes) to
 * protobuf bytes that onnxruntime loads directly.
 *
 * Why a hand-written writer: we only ever WRITE seven message types (Model, OperatorSetId, Graph, Node, Attribute,
 * Tensor, ValueInfo and its type/shape sub-messages), never read them. The one npm package that ships the schema,
 * `onnx-proto` (8.0.1), has three sporadic releases and pulls in the legacy protobufjs 6 line; ~150 lines of
 * varint/length-delimited encoding below are easier to audit than that dependency. Field numbers are those of
 * `onnx/onnx.proto` (proto2); repeated scalars are written unpacked, which every protobuf parser accepts.
 */

/** Element types we use, with their `TensorProto.DataType` codes. */
export type DType = 'float32' | 'float64' | 'int64' | 'bool';

export const ONNX_DTYPE: Record<DType, number> = { float32: 1, int64: 7, bool: 9, float64: 11 };

/** IR version 9 goes with opsets up to 20; onnxruntime 1.30 reads it. */
export const IR_VERSION = 9;
/** Default-domain opset: 18 (every Reduce* takes `axes` as an input, Split takes `num_outputs`). */
export const OPSET = 18;

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorData };

export interface TensorData {
  name: string;
  dtype: DType;
  dims: readonly number[];
  /** Values in row-major order; int64 given as numbers (exact up to 2^53), bool as 0/1. */
  data: ArrayLike<number>;
}

export interface NodeData {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs: Readonly<Record<string, AttrValue>>;
  name: string;
  /** '' for the default ONNX domain. */
  domain: string;
}

export interface ValueInfoData {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

export interface GraphData {
  name: string;
  nodes: readonly NodeData[];
  initializers: readonly TensorData[];
  inputs: readonly ValueInfoData[];
  outputs: readonly ValueInfoData[];
}

/** Accumulates one message's bytes. */
class Writer {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** Varint of a (possibly negative) 64-bit integer: negatives take ten bytes (two's complement). */
  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: 0 | 1 | 2 | 5): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`onnx-proto: field ${field}: ${value} is not an integer`);
    this.tag(field, 0);
    this.varint(value);
  }

  float32(field: number, value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.tag(field, 5);
    this.push(b);
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, 2);
    this.varint(value.length);
    this.push(value);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, body: Writer): void {
    this.bytes(field, body.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Little-endian raw bytes of a tensor's values. */
function rawData(t: TensorData): Uint8Array {
  const n = t.data.length;
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (n !== expected) throw new RangeError(`onnx-proto: tensor ${t.name}: ${n} values for shape [${t.dims.join(', ')}]`);
  switch (t.dtype) {
    case 'float32':
      return new Uint8Array(Float32Array.from(t.data).buffer);
    case 'float64':
      return new Uint8Array(Float64Array.from(t.data).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(Array.from(t.data, (x) => BigInt(x))).buffer);
    case 'bool':
      return Uint8Array.from(t.data, (x) => (x ? 1 : 0));
  }
}

function tensorProto(t: TensorData): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d); // dims
  w.int(2, ONNX_DTYPE[t.dtype]); // data_type
  w.string(8, t.name); // name
  w.bytes(9, rawData(t)); // raw_data
  return w;
}

// AttributeProto.AttributeType codes.
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function attributeProto(name: string, a: AttrValue): Writer {
  const w = new Writer();
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float32(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, tensorProto(a.value));
      break;
    case 'floats':
      for (const f of a.value) w.float32(7, f);
      break;
    case 'ints':
      for (const i of a.value) w.int(8, i);
      break;
  }
  w.int(20, ATTR_TYPE[a.kind]);
  return w;
}

function nodeProto(n: NodeData): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, attributeProto(k, v));
  if (n.domain !== '') w.string(7, n.domain);
  return w;
}

function valueInfoProto(v: ValueInfoData): Writer {
  const shape = new Writer();
  for (const d of v.shape) {
    const dim = new Writer();
    dim.int(1, d); // dim_value
    shape.message(1, dim);
  }
  const tensorType = new Writer();
  tensorType.int(1, ONNX_DTYPE[v.dtype]); // elem_type
  tensorType.message(2, shape);
  const type = new Writer();
  type.message(1, tensorType); // TypeProto.tensor_type
  const w = new Writer();
  w.string(1, v.name);
  w.message(2, type);
  return w;
}

function graphProto(g: GraphData): Writer {
  const w = new Writer();
  for (const n of g.nodes) w.message(1, nodeProto(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensorProto(t));
  for (const i of g.inputs) w.message(11, valueInfoProto(i));
  for (const o of g.outputs) w.message(12, valueInfoProto(o));
  return w;
}

/** The ModelProto bytes of `graph`, default domain at {@link OPSET}. */
export function encodeModel(graph: GraphData, producer = 'syscall-anomaly'): Uint8Array {
  const opset = new Writer();
  opset.string(1, '');
  opset.int(2, OPSET);
  const w = new Writer();
  w.int(1, IR_VERSION); // ir_version
  w.string(2, producer); // producer_name
  w.message(7, graphProto(graph)); // graph
  w.message(8, opset); // opset_import
  return w.finish();
}
