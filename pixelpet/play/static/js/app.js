// The page: sign in, act on the player's pets, and keep every card live through one subscription for the account.

import { GraphQLProblem, explain, request } from "./graphql.js";
import { LiveConnection } from "./live.js";
import { describe, draw } from "./sprites.js";

const FIELDS = "id name species mood needs activity version stats { hunger happiness energy asOf }";
// The account stream: every pet first (the list to show), then each pet adopted, changed or removed,
// from this tab or any other, as one subscription however many pets there are (the per-connection cap is 10).
const PETS = `subscription { pets { __typename
  ... on PetsSnapshot { pets { ${FIELDS} } } ... on PetUpdated { pet { ${FIELDS} } } ... on PetRemoved { id } } }`;
const ADOPT = `mutation($input: CreatePetInput!) { createPet(input: $input) { ${FIELDS} } }`;
const RENAME = `mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { ${FIELDS} } }`;
const DELETE = "mutation($id: ID!) { deletePet(id: $id) }";
const act = (name) => `mutation($id: ID!) { ${name}(id: $id) { ${FIELDS} } }`;
const NEEDS = { FOOD: "food", PLAY: "play", REST: "rest" };

const $ = (selector, root = document) => root.querySelector(selector);
// pets: id -> {pet, card}; gone: ids deleted, so a late answer about one does not bring its card back.
const state = { token: null, live: null, pets: new Map(), gone: new Set() };

function setConnection(kind, detail) {
  const line = $("#connection");
  line.dataset.state = kind;
  line.textContent = detail || { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" }[kind];
}

function notice(text) { $("#notice").textContent = text; }

function cardMessage(id, text) {
  const entry = state.pets.get(id);
  if (entry) $(".message", entry.card).textContent = text;
}

function show(pet) {
  if (state.gone.has(pet.id)) return;
  let entry = state.pets.get(pet.id);
  if (!entry) {
    const card = $("#pet-card").content.firstElementChild.cloneNode(true);
    card.dataset.petId = pet.id;
    card.querySelectorAll("[data-action]").forEach((button) => {
      button.addEventListener("click", () => onAction(pet.id, button));
    });
    $("#pets").append(card);
    entry = { pet, card };
    state.pets.set(pet.id, entry);
  }
  // A newer state only: an action's answer and the subscription may arrive in either order.
  const shown = entry.pet;
  if (shown !== pet && (pet.version < shown.version || (pet.version === shown.version && pet.stats.asOf < shown.stats.asOf))) return;
  entry.pet = pet;
  const card = entry.card;
  card.setAttribute("aria-label", describe(pet));
  if (!$(".rename-form", card)) $(".name", card).textContent = pet.name;
  $(".mood", card).textContent = pet.activity === "ASLEEP" ? "Asleep" : pet.mood[0] + pet.mood.slice(1).toLowerCase();
  for (const stat of ["hunger", "happiness", "energy"]) {
    $(`meter.${stat}`, card).value = pet.stats[stat];
    $(`meter.${stat}`, card).setAttribute("aria-label", `${stat} ${pet.stats[stat]} of 100`);
    $(`.${stat}-value`, card).textContent = String(pet.stats[stat]);
  }
  $(".needs", card).textContent = pet.needs.length ? `Needs: ${pet.needs.map((need) => NEEDS[need] || need).join(", ")}` : "Needs nothing right now";
  const focused = document.activeElement;
  const asleep = pet.activity === "ASLEEP";
  for (const action of ["putPetToSleep", "feedPet", "playWithPet"]) $(`[data-action="${action}"]`, card).disabled = asleep;
  $('[data-action="wakePet"]', card).disabled = !asleep;
  // A keyboard user's button just went disabled (asleep: no Sleep): keep them in the card, on its counterpart.
  if (focused && focused.disabled && card.contains(focused)) $(`[data-action="${asleep ? "wakePet" : "putPetToSleep"}"]`, card).focus();
  draw($(".sprite", card), pet);
  $("#empty").hidden = state.pets.size > 0;
}

function forget(id, deleted = true) {
  if (deleted) state.gone.add(id);
  const entry = state.pets.get(id);
  if (!entry) return;
  entry.card.remove();
  state.pets.delete(id);
  $("#empty").hidden = state.pets.size > 0;
}

function onEvent({ pets: event }) {
  if (event.__typename === "PetsSnapshot") {
    // The whole list as it is now (first, and after every reconnect): pets not in it are gone. Not marked
    // deleted: one this tab just adopted may be missing from a list read a moment before, its update to follow.
    const listed = new Set(event.pets.map((pet) => pet.id));
    for (const id of [...state.pets.keys()]) if (!listed.has(id)) forget(id, false);
    event.pets.forEach(show);
    $("#empty").hidden = state.pets.size > 0;
    setConnection("live");
  } else if (event.__typename === "PetUpdated") show(event.pet);
  else forget(event.id);
}

function onEnded(error, retryInMs) {
  const problem = new GraphQLProblem(error.message, (error.extensions && error.extensions.code) || "ERROR", error.extensions);
  if (retryInMs === undefined) return setConnection("offline", explain(problem));
  // The page keeps what it showed; the fresh snapshot on the next attempt brings it up to date.
  setConnection("reconnecting", `Updates paused; retrying in ${Math.ceil(retryInMs / 1000)} s…`);
}

function onConnection(kind, detail) {
  if (kind !== "expired") return setConnection(kind, detail);
  signOut(); // the socket refused the token (4403): it was bad, or it ran out
  notice(explain(new GraphQLProblem(detail, "UNAUTHENTICATED")));
}

async function attempt(id, work) {
  cardMessage(id, "");
  notice("");
  try {
    await work();
  } catch (problem) {
    if (!(problem instanceof GraphQLProblem)) throw problem;
    if (id) cardMessage(id, explain(problem)); else notice(explain(problem));
    if (problem.code === "UNAUTHENTICATED") signOut();
  }
}

function onAction(id, button) {
  const action = button.dataset.action;
  if (action === "rename") return startRename(id);
  if (action === "deletePet") {
    if (button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      button.textContent = "Really delete?";
      return;
    }
    return attempt(id, async () => { await request(state.token, DELETE, { id }); forget(id); });
  }
  return attempt(id, async () => show((await request(state.token, act(action), { id }))[action]));
}

function startRename(id) {
  const entry = state.pets.get(id);
  const heading = $(".name", entry.card);
  if ($(".rename-form", entry.card)) return;
  const form = document.createElement("form");
  form.className = "rename-form";
  form.innerHTML = '<label>New name <input name="name" required maxlength="32"></label><button type="submit">Save</button>';
  const input = $("input", form);
  input.value = entry.pet.name;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(id, async () => {
      const renamed = (await request(state.token, RENAME, { id, name: input.value })).renamePet;
      form.remove();
      heading.hidden = false;
      show(renamed);
    });
  });
  heading.hidden = true;
  heading.after(form);
  input.focus();
}

function signIn(token) {
  state.token = token;
  sessionStorage.setItem("pixelpet-token", token);
  notice("");
  state.live = new LiveConnection(token, onConnection);
  state.live.subscribe(PETS, {}, onEvent, onEnded);
  $("#sign-in").hidden = true;
  $("#game").hidden = false;
  $("#empty").hidden = true; // until the list arrives
  $("#pet-name").focus();
}

function signOut() {
  sessionStorage.removeItem("pixelpet-token");
  if (state.live) state.live.close();
  for (const id of [...state.pets.keys()]) forget(id, false);
  state.gone.clear();
  state.token = null;
  $("#game").hidden = true;
  $("#sign-in").hidden = false;
  setConnection("offline", "Not signed in");
}

async function start() {
  const config = await fetch("config.json").then((response) => response.json()).catch(() => ({}));
  $("#dev-sign-in").hidden = !config.developmentTokens;
  $("#dev-sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ player: $("#player").value }),
    });
    if (!response.ok) return notice("Could not sign in with a development token.");
    signIn((await response.json()).token);
  });
  $("#token-sign-in").addEventListener("submit", (event) => { event.preventDefault(); signIn($("#token").value.trim()); });
  $("#sign-out").addEventListener("click", signOut);
  $("#adopt").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = { name: $("#pet-name").value, species: $("#pet-species").value };
    attempt(null, async () => { show((await request(state.token, ADOPT, { input })).createPet); $("#pet-name").value = ""; });
  });
  const saved = sessionStorage.getItem("pixelpet-token");
  if (saved) signIn(saved);
  else (config.developmentTokens ? $("#player") : $("#token")).focus();
}

start();
