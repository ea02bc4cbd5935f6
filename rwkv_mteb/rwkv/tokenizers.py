"""Text to token ids: RWKV's "World" tokenizer for RWKV-6 (greedy longest byte match over
rwkv_vocab_v20230424.txt, no BOS), the checkpoint's own tokenizer for models from transformers."""

from __future__ import annotations

from pathlib import Path


class WorldTokenizer:
    """The World vocabulary through ``pyrwkv-tokenizer`` (Rust). An empty text becomes ``[0]``: id 0 is the
    reserved end-of-text token, so the model then embeds "no text" rather than failing or giving NaN."""

    empty_id = 0

    def __init__(self, vocab_file: Path | None = None) -> None:
        import pyrwkv_tokenizer

        self._tok = pyrwkv_tokenizer.RWKVTokenizer(vocab_filepath=str(vocab_file) if vocab_file else None)
        self.vocab_file = Path(self._tok.vocab_filepath)

    def __call__(self, texts: list[str]) -> list[list[int]]:
        return [ids or [self.empty_id] for ids in self._tok.encode_batch(list(texts))]

    def save(self, folder: Path) -> None:
        import shutil

        shutil.copyfile(self.vocab_file, folder / self.vocab_file.name)


class HFTokenizer:
    """A transformers tokenizer, with the model's own special tokens; empty texts get the EOS/BOS/0 token."""

    def __init__(self, tokenizer) -> None:  # type: ignore[no-untyped-def]
        self.tokenizer = tokenizer
        fallback = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.bos_token_id
        self.empty_id = fallback if fallback is not None else 0

    def __call__(self, texts: list[str]) -> list[list[int]]:
        encoded = self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        return [ids or [self.empty_id] for ids in encoded]

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(folder)
