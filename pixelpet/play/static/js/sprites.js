// Pixel-art pets: a 16x16 silhouette per species, a face drawn from mood and needs, Zzz while asleep.

const SHAPES = {
  CAT: [
    "................", ".o..........o...", ".oo........oo...", ".obo......obo...",
    ".obbooooooobbo..", ".obbbbbbbbbbbo..", "obbbbbbbbbbbbbo.", "obbbbbbbbbbbbbo.",
    "obbbbbbbbbbbbbo.", "obbbbbbbbbbbbbo.", "obbbbbbbbbbbbbo.", ".obbbbbbbbbbbo..",
    "..obbbbbbbbbo..o", "..obbbbbbbbbo.ob", "..obbobbbobbooo.", "...oo.ooo.oo....",
  ],
  DOG: [
    "................", "................", "..oooooooooooo..", ".obbbbbbbbbbbbo.",
    "oddbbbbbbbbbbddo", "oddbbbbbbbbbbddo", "oddbbbbbbbbbbddo", "oddbbbbbbbbbbddo",
    ".odbbbbbbbbbbdo.", "..obbbbbbbbbbo..", "..obbbbbbbbbbo..", "..obbbbbbbbbbo..",
    "..obbbbbbbbbbo..", "..obbbbbbbbbbo..", "..obbobbbbobbo..", "...oo.oooo.oo...",
  ],
  DRAGON: [
    "..o..........o..", "..do........od..", "...do......od...", "...obooooooobo..",
    "..obbbbbbbbbbbo.", "..obbbbbbbbbbbo.", "dobbbbbbbbbbbbod", "ddobbbbbbbbbbodd",
    "ddobbbbbbbbbbodd", ".dobbbbbbbbbbod.", "..obbbbbbbbbbo..", "..obbbbbbbbbbo..",
    "..obbbbbbbbbbo.d", "..obbbbbbbbbbodd", "..obbobbbbobbo..", "...oo.oooo.oo...",
  ],
  AXOLOTL: [
    "................", "................", "d.d.oooooooo.d.d", ".ddobbbbbbbbodd.",
    "d.obbbbbbbbbbo.d", ".dobbbbbbbbbbod.", "d.obbbbbbbbbbo.d", "..obbbbbbbbbbo..",
    "..obbbbbbbbbbo..", "..obbbbbbbbbbo..", "...obbbbbbbbo...", "....obbbbbbo....",
    "...obbbbbbbbo...", "...obbbbbbbbo...", "...obbo..obbo...", "....oo....oo....",
  ],
};
const COLOURS = {
  CAT: { b: "#f2a65a", d: "#c46a1f" }, DOG: { b: "#d9b382", d: "#7a4f2b" },
  DRAGON: { b: "#6cc26c", d: "#2f7a3a" }, AXOLOTL: { b: "#f6b3c8", d: "#d0507a" },
};
const INK = "#1d1b26";

// The face in the head's middle: eyes on row 7, mouth on rows 10-11 (16x16 coordinates).
const EYES = {
  open: [[5, 7], [5, 8], [10, 7], [10, 8]],
  happy: [[4, 8], [5, 7], [6, 8], [9, 8], [10, 7], [11, 8]],
  closed: [[4, 8], [5, 8], [6, 8], [9, 8], [10, 8], [11, 8]],
  cross: [[4, 7], [6, 7], [5, 8], [4, 9], [6, 9], [9, 7], [11, 7], [10, 8], [9, 9], [11, 9]],
  grumpy: [[4, 7], [5, 8], [6, 8], [11, 7], [10, 8], [9, 8]],
};
const MOUTHS = {
  smile: [[6, 10], [7, 11], [8, 11], [9, 10]],
  grin: [[5, 10], [6, 11], [7, 11], [8, 11], [9, 11], [10, 10]],
  flat: [[6, 11], [7, 11], [8, 11], [9, 11]],
  frown: [[6, 11], [7, 10], [8, 10], [9, 11]],
  open: [[7, 10], [8, 10], [7, 11], [8, 11]],
};

export function look(pet) {
  const asleep = pet.activity === "ASLEEP";
  const hungry = pet.needs.includes("FOOD");
  const eyes = asleep ? "closed"
    : { ECSTATIC: "happy", HAPPY: "happy", CONTENT: "open", GRUMPY: "grumpy", MISERABLE: "cross" }[pet.mood] || "open";
  const mouth = asleep ? "flat" : hungry ? "open"
    : { ECSTATIC: "grin", HAPPY: "smile", CONTENT: "smile", GRUMPY: "flat", MISERABLE: "frown" }[pet.mood] || "flat";
  return { eyes, mouth, asleep, hungry };
}

export function describe(pet) {
  const { asleep, hungry } = look(pet);
  const state = asleep ? "asleep" : pet.mood.toLowerCase();
  return `${pet.name} the ${pet.species.toLowerCase()}, ${state}${hungry && !asleep ? " and hungry" : ""}`;
}

export function draw(canvas, pet) {
  const context = canvas.getContext("2d");
  const cell = canvas.width / 16;
  const colours = { o: INK, ...COLOURS[pet.species] };
  context.clearRect(0, 0, canvas.width, canvas.height);
  const pixel = (x, y, colour) => { context.fillStyle = colour; context.fillRect(x * cell, y * cell, cell, cell); };
  SHAPES[pet.species].forEach((row, y) => [...row].forEach((code, x) => { if (colours[code]) pixel(x, y, colours[code]); }));
  const { eyes, mouth, asleep, hungry } = look(pet);
  for (const [x, y] of EYES[eyes]) pixel(x, y, INK);
  for (const [x, y] of MOUTHS[mouth]) pixel(x, y, INK);
  if (hungry && !asleep) pixel(9, 12, "#5aa9e6"); // a drop of drool
  if (pet.mood === "ECSTATIC" || pet.mood === "HAPPY") { pixel(3, 10, "#e8708f"); pixel(12, 10, "#e8708f"); }
  if (asleep) { context.fillStyle = INK; context.font = `bold ${cell * 4}px monospace`; context.fillText("z", cell * 12, cell * 4); }
  canvas.setAttribute("aria-label", describe(pet));
}
