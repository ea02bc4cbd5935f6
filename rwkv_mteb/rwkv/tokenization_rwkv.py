"""Text to token ids for RWKV checkpoints: RWKV's "World" tokenizer (greedy longest byte match over
rwkv_vocab_v20230424.txt, no BOS), or raw UTF-8 bytes for byte-level checkpoints (vocabulary 256, e.g. rwkv.cpp's
test models). :func:`rwkv_tokenizer` picks one from the checkpoint, never assuming."""

from __future__ import annotations

from pathlib import Path

from rwkv_mteb.errors import CheckpointError

VOCAB_FILE = "rwkv_vocab_v20230424.txt"
WORLD_VOCAB_ROWS = 65536


def world_vocab_file() -> Path:
    """The World vocabulary, as ``pyrwkv-tokenizer`` ships it."""
    import pyrwkv_tokenizer

    return Path(pyrwkv_tokenizer.__file__).parent / VOCAB_FILE


class WorldTokenizer:
    """The World vocabulary through ``pyrwkv-tokenizer`` (Rust). An empty text becomes ``[0]``: id 0 is the
    reserved end-of-text token, so the model then embeds "no text" rather than failing or giving NaN."""

    empty_id = 0

    def __init__(self, vocab_file: Path | None = None) -> None:
        import pyrwkv_tokenizer

        self._tok = pyrwkv_tokenizer.RWKVTokenizer(vocab_filepath=str(vocab_file) if vocab_file else None)
        self.vocab_file = Path(self._tok.vocab_filepath)

    def __call__(self, texts: list[str]) -> list[list[int]]:
        return [ids or [self.empty_id] for ids in self.plain(texts)]

    special_prefix: tuple[int, ...] = ()  # no BOS

    def plain(self, texts: list[str]) -> list[list[int]]:
        """Ids of each text alone (no special tokens, empty stays empty): the pieces of a prompt template."""
        return [list(ids) for ids in self._tok.encode_batch(list(texts))]

    def save(self, folder: Path) -> None:
        import shutil

        shutil.copyfile(self.vocab_file, folder / self.vocab_file.name)


class ByteTokenizer:
    """Byte-level models: token id = byte value of the UTF-8 text; an empty text is ``[0]`` (end of text)."""

    empty_id = 0
    vocab_file = None

    def __call__(self, texts: list[str]) -> list[list[int]]:
        return [ids or [self.empty_id] for ids in self.plain(texts)]

    special_prefix: tuple[int, ...] = ()

    def plain(self, texts: list[str]) -> list[list[int]]:
        return [list(text.encode("utf-8")) for text in texts]

    def save(self, folder: Path) -> None:
        """Nothing to save: a 256-row embedding table says "bytes"."""


def rwkv_tokenizer(folder: Path, vocab_size: int) -> WorldTokenizer | ByteTokenizer:
    """The tokenizer of an RWKV checkpoint: its own World vocabulary file when it has one, bytes for a vocabulary
    of 256, the World vocabulary for 65,536 rows; anything else must bring its vocabulary file."""
    if (folder / VOCAB_FILE).is_file():
        return WorldTokenizer(folder / VOCAB_FILE)
    if vocab_size == 256:
        return ByteTokenizer()
    if vocab_size == WORLD_VOCAB_ROWS:
        return WorldTokenizer()
    raise CheckpointError(
        f"the checkpoint in {folder} has {vocab_size} embeddings and no {VOCAB_FILE} beside it; put the "
        "tokenizer's vocabulary file in that folder (World: 65,536 ids, bytes: 256)"
    )
