"""Prices with their unit attached, so a per-1K figure can never be read as per-1M.

Why: the AWS Price List quotes ``AmazonBedrock`` in USD per 1,000 tokens and
``AmazonBedrockFoundationModels`` per 1,000,000; pricing pages and genai-prices use per million.
Every number enters this program through one of the named constructors below and is stored as USD
per *single* unit (token or image); displays convert back explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bedrock_explorer.errors import UserFacingError


class Meter(StrEnum):
    """What is counted and billed: the usage type."""

    INPUT = "input"
    OUTPUT = "output"
    CACHE_READ = "cache_read"
    CACHE_WRITE = "cache_write"  # 5-minute cache writes
    CACHE_WRITE_1H = "cache_write_1h"
    IMAGE = "image"  # an image of the model's base class: standard quality, base size
    IMAGE_PREMIUM = "image_premium"  # premium quality, base size
    IMAGE_LARGE = "image_large"  # standard quality, larger than the base size
    IMAGE_PREMIUM_LARGE = "image_premium_large"


#: Meters counted per image (the rest per token). Nova Canvas and Titan Image bill an image by
#: its quality and size class; a model with only :attr:`Meter.IMAGE` bills every image alike.
IMAGE_METERS = (Meter.IMAGE, Meter.IMAGE_PREMIUM, Meter.IMAGE_LARGE, Meter.IMAGE_PREMIUM_LARGE)


#: No Bedrock token meter costs more than this per single token ($1,000 per million). A larger
#: value is a unit mistake (a per-1K or per-1M figure given as per-token), refused on entry.
_MAX_USD_PER_TOKEN = Decimal("0.001")
_MAX_USD_PER_IMAGE = Decimal("10")


@dataclass(frozen=True)
class UnitPrice:
    """USD per one unit: one token, or one image."""

    usd_per_unit: Decimal
    unit: str  # "token" | "image"

    def __post_init__(self) -> None:
        if self.usd_per_unit < 0:
            raise UserFacingError("A price cannot be negative", "check the figure you entered")
        limit = _MAX_USD_PER_TOKEN if self.unit == "token" else _MAX_USD_PER_IMAGE
        if self.usd_per_unit > limit:
            raise UserFacingError(
                f"{self.usd_per_unit} USD per {self.unit} is not a plausible Bedrock price",
                "token prices are given per 1M tokens (e.g. 3 for $3 per million)",
            )

    @classmethod
    def per_million_tokens(cls, usd: Decimal | str | float) -> UnitPrice:
        return cls(Decimal(str(usd)) / Decimal(1_000_000), "token")

    @classmethod
    def per_thousand_tokens(cls, usd: Decimal | str | float) -> UnitPrice:
        return cls(Decimal(str(usd)) / Decimal(1_000), "token")

    @classmethod
    def per_image(cls, usd: Decimal | str | float) -> UnitPrice:
        return cls(Decimal(str(usd)), "image")

    @classmethod
    def for_meter(cls, meter: Meter, usd_per_million_or_image: Decimal | str | float) -> UnitPrice:
        """Token meters are quoted per 1M tokens, the image meters per image."""
        if meter in IMAGE_METERS:
            return cls.per_image(usd_per_million_or_image)
        return cls.per_million_tokens(usd_per_million_or_image)

    @property
    def display(self) -> Decimal:
        """Per 1M tokens for tokens, per image for images: the figures users know."""
        if self.unit == "token":
            return (self.usd_per_unit * 1_000_000).normalize()
        return self.usd_per_unit.normalize()
