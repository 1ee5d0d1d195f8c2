"""Draw Lookback's brand images into custom_components/lookback/brand/ (re-run after changes).

Usage: ``.venv/bin/python scripts/make_brand.py``

Home Assistant's brands integration serves a custom integration's own ``brand/`` folder at
``/api/brands/integration/<domain>/<image>`` (homeassistant/components/brands); these follow the
home-assistant/brands rules: PNG, transparent, trimmed, icon square 256x256 and @2x 512x512,
logo landscape with its short side 128-256 (@2x 256-512). ``dark_logo`` carries a light
wordmark for dark themes; the icon works on both, so there is no ``dark_icon``.

The icon is a camera lens inside a counter-clockwise (rewind) arrow. Everything is drawn at a
large size and scaled down with Lanczos, which is all the anti-aliasing Pillow needs. The
wordmark uses Pillow's bundled font, so the output does not depend on the host's fonts.
"""

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND_DIR = Path(__file__).resolve().parent.parent / "custom_components" / "lookback" / "brand"
CANVAS = 2048  # drawing size of the icon before trimming and scaling

ARROW = (3, 169, 244)  # Home Assistant blue
BODY = (38, 50, 56)  # lens barrel: dark slate
RIM = (96, 125, 139)  # barrel edge, lighter so the barrel stands out on dark themes too
GLASS_OUTER = (13, 71, 161)
GLASS_INNER = (66, 165, 245)
PUPIL = (10, 24, 44)
TEXT_LIGHT_THEME = (33, 33, 33)
TEXT_DARK_THEME = (240, 240, 240)

RGBA = tuple[int, int, int, int]
Fill = int | RGBA  # a grey level for masks, RGBA for pictures


def _disc(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, fill: Fill) -> None:
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)


def _radial(size: int, center: float, radius: float, inner: RGBA, outer: RGBA) -> Image.Image:
    """A disc whose colour runs from ``inner`` (offset towards the top left) to ``outer``."""
    gradient = Image.radial_gradient("L")  # 256x256: 0 at the centre, 255 at radius 128
    focus = (center - radius * 0.25, center - radius * 0.25)
    spread = Image.new("L", (size, size), 255)
    side = round(radius * 2.6)
    spread.paste(
        gradient.resize((side, side)), (round(focus[0] - side / 2), round(focus[1] - side / 2))
    )
    disc = Image.composite(
        Image.new("RGBA", (size, size), outer), Image.new("RGBA", (size, size), inner), spread
    )
    mask = Image.new("L", (size, size), 0)
    _disc(ImageDraw.Draw(mask), center, center, radius, 255)
    disc.putalpha(mask)
    return disc


def draw_icon() -> Image.Image:
    """The icon at CANVAS size, not yet trimmed."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c = CANVAS / 2
    ring_radius, ring_width = CANVAS * 0.40, CANVAS * 0.075

    # Rewind arrow: an arc from 8 o'clock round the bottom, right and top to 10 o'clock (PIL
    # angles run clockwise from 3 o'clock), its head there pointing on counter-clockwise.
    head_angle, tail_angle = 205.0, 150.0
    outer = ring_radius + ring_width / 2  # PIL draws a wide arc inwards from its box
    outer_box = (c - outer, c - outer, c + outer, c + outer)
    draw.arc(outer_box, head_angle, tail_angle + 360, fill=(*ARROW, 255), width=round(ring_width))
    tail = math.radians(tail_angle)  # round the tail end off
    tx = c + ring_radius * math.cos(tail)
    ty = c + ring_radius * math.sin(tail)
    _disc(draw, tx, ty, ring_width / 2, (*ARROW, 255))
    theta = math.radians(head_angle)
    px, py = c + ring_radius * math.cos(theta), c + ring_radius * math.sin(theta)
    radial = (math.cos(theta), math.sin(theta))
    forward = (math.sin(theta), -math.cos(theta))  # counter-clockwise tangent (y down)
    half_base, length = ring_width * 1.35, ring_width * 1.9
    draw.polygon(
        [
            (px + radial[0] * half_base, py + radial[1] * half_base),
            (px + forward[0] * length, py + forward[1] * length),
            (px - radial[0] * half_base, py - radial[1] * half_base),
        ],
        fill=(*ARROW, 255),
    )

    # Lens: barrel with a lighter rim, blue glass, dark pupil, two glints.
    _disc(draw, c, c, CANVAS * 0.295, (*RIM, 255))
    _disc(draw, c, c, CANVAS * 0.275, (*BODY, 255))
    glass_radius = CANVAS * 0.19
    glass = _radial(CANVAS, c, glass_radius, (*GLASS_INNER, 255), (*GLASS_OUTER, 255))
    image.alpha_composite(glass)
    _disc(draw, c, c, CANVAS * 0.082, (*PUPIL, 255))
    glints = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    glint_draw = ImageDraw.Draw(glints)
    gx, gy = c - glass_radius * 0.42, c - glass_radius * 0.42
    _disc(glint_draw, gx, gy, glass_radius * 0.17, (255, 255, 255, 225))
    _disc(
        glint_draw,
        c + glass_radius * 0.38,
        c + glass_radius * 0.38,
        glass_radius * 0.07,
        (255, 255, 255, 150),
    )
    image.alpha_composite(glints)
    return image


def trim(image: Image.Image, *, square: bool) -> Image.Image:
    """Crop to the visible pixels; ``square`` then pads the short side evenly."""
    box = image.getchannel("A").getbbox()
    if box is None:
        raise ValueError("nothing drawn")
    image = image.crop(box)
    if not square or image.width == image.height:
        return image
    side = max(image.size)
    padded = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    padded.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return padded


def draw_logo(icon: Image.Image, text_colour: tuple[int, int, int]) -> Image.Image:
    """Icon and the word "Lookback" side by side, at the icon's (trimmed) height."""
    height = icon.height
    font = ImageFont.load_default(size=round(height * 0.62))
    stroke = max(1, round(height * 0.012))  # Pillow's bundled font is light: embolden it
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), "Lookback", font=font, stroke_width=stroke)
    size = (math.ceil(right - left), math.ceil(bottom - top))
    text = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(text).text(
        (-left, -top),
        "Lookback",
        font=font,
        fill=(*text_colour, 255),
        stroke_width=stroke,
        stroke_fill=(*text_colour, 255),
    )
    text = trim(text, square=False)
    gap = round(height * 0.18)
    logo = Image.new("RGBA", (icon.width + gap + text.width, height), (0, 0, 0, 0))
    logo.alpha_composite(icon)
    logo.alpha_composite(text, (icon.width + gap, (height - text.height) // 2))
    return logo


def scaled(image: Image.Image, height: int) -> Image.Image:
    """``image`` resized to ``height`` (aspect kept), alpha premultiplied while resampling."""
    width = max(1, round(image.width * height / image.height))
    premultiplied = image.convert("RGBa")
    return premultiplied.resize((width, height), Image.Resampling.LANCZOS).convert("RGBA")


def save(image: Image.Image, name: str) -> None:
    """Write an optimised PNG and say what was written."""
    # Fully transparent pixels keep no colour: smaller files, no fringes in odd viewers.
    alpha = image.getchannel("A")
    clear = Image.new("RGBA", image.size, (0, 0, 0, 0))
    image = Image.composite(image, clear, alpha.point(lambda a: 255 if a else 0))
    path = BRAND_DIR / name
    image.save(path, optimize=True)
    print(f"{path.relative_to(BRAND_DIR.parent.parent.parent)}: {image.width}x{image.height}")


def main() -> None:
    """Draw and write every brand image."""
    BRAND_DIR.mkdir(parents=True, exist_ok=True)
    icon = trim(draw_icon(), square=True)
    save(scaled(icon, 256), "icon.png")
    save(scaled(icon, 512), "icon@2x.png")
    for prefix, colour in (("", TEXT_LIGHT_THEME), ("dark_", TEXT_DARK_THEME)):
        logo = trim(draw_logo(icon, colour), square=False)
        save(scaled(logo, 128), f"{prefix}logo.png")
        save(scaled(logo, 256), f"{prefix}logo@2x.png")


if __name__ == "__main__":
    main()
