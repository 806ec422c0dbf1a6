// The original nsfwjs (its own loader, tfjs's pure-JavaScript CPU backend) on images given as raw
// arrays, for the conversion parity test (tests/dev/test_nsfw_parity.py).
//
//   node devtools/nsfwjs_reference/reference.mjs NODE_DIR REQUEST.json RESULT.json
//
// NODE_DIR holds node_modules with @tensorflow/tfjs and nsfwjs (installed from the pinned tarball).
// REQUEST.json: {"items": [{"kind": "tensor" | "pixels", "path": FILE, "shape": [...]}]}
//   tensor: little-endian float32 [224, 224, 3], already preprocessed: fed straight to the model;
//   pixels: uint8 [H, W, 3] RGB: through nsfwjs's own preprocessing (infer: /255, resizeBilinear).
// RESULT.json: {"backend", "tfjs", "nsfwjs", "classes", "probabilities": [[...5 floats] per item]}.
// Results go to a file: nsfwjs logs to stdout.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [nodeArg, requestPath, resultPath] = process.argv.slice(2);
if (!resultPath) {
  console.error("usage: reference.mjs NODE_DIR REQUEST.json RESULT.json");
  process.exit(2);
}
const nodeDir = resolve(nodeArg);
const require = createRequire(join(nodeDir, "package.json"));
const tf = require("@tensorflow/tfjs");
const nsfwjs = require("nsfwjs");
// not in the package's "exports": read by path
const packageDir = join(nodeDir, "node_modules", "nsfwjs");
const { NSFW_CLASSES } = require(join(packageDir, "dist", "cjs", "nsfw_classes.js"));
const nsfwjsVersion = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).version;

await tf.setBackend("cpu");
await tf.ready();
const model = await nsfwjs.load(); // the package default: MobileNetV2
const request = JSON.parse(readFileSync(requestPath, "utf8"));

function view(path, Type) {
  const bytes = readFileSync(path);
  return new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT);
}

const probabilities = [];
for (const item of request.items) {
  let output;
  if (item.kind === "tensor") {
    const input = tf.tensor4d(view(item.path, Float32Array), [1, ...item.shape], "float32");
    output = model.model.predict(input);
    input.dispose();
  } else if (item.kind === "pixels") {
    const pixels = tf.tensor3d(view(item.path, Uint8Array), item.shape, "int32");
    output = model.infer(pixels); // what classify() ranks: /255, resizeBilinear(alignCorners), predict
    pixels.dispose();
  } else {
    throw new Error(`unknown item kind ${item.kind}`);
  }
  probabilities.push(Array.from(await output.data()));
  output.dispose();
}

const classes = Object.keys(NSFW_CLASSES)
  .sort((a, b) => a - b)
  .map((k) => NSFW_CLASSES[k].toLowerCase());
const versions = { backend: tf.getBackend(), tfjs: tf.version.tfjs, nsfwjs: nsfwjsVersion };
writeFileSync(resultPath, JSON.stringify({ ...versions, classes, probabilities }));
