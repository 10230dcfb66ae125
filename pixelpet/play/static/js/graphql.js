// GraphQL over HTTP, as the spec has it: POST application/json, asking for application/graphql-response+json.

export class GraphQLProblem extends Error {
  constructor(message, code, extensions = {}) {
    super(message);
    this.code = code;
    this.extensions = extensions;
  }
}

export async function request(token, query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json;q=0.9",
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GraphQLProblem("The server cannot be reached.", "OFFLINE");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLProblem(`The server answered ${response.status}.`, `HTTP_${response.status}`);
  }
  if (body.errors && body.errors.length) {
    const [first] = body.errors;
    const extensions = first.extensions || {};
    throw new GraphQLProblem(first.message, extensions.code || "ERROR", extensions);
  }
  return body.data;
}

// What a player reads for each code the API documents (the README's error table).
export function explain(problem) {
  const seconds = problem.extensions && problem.extensions.retryAfterSeconds;
  switch (problem.code) {
    case "ACTION_REFUSED": return problem.message;
    case "RATE_LIMITED": return `Slow down: try again in ${seconds ? Math.ceil(seconds) : "a few"} s.`;
    case "SUBSCRIPTION_LIMIT_REACHED": return "Too many live views are open: close one, or reload.";
    case "CONFLICT": return "Someone else changed this pet first; here it is as it is now.";
    case "NOT_FOUND": return "That pet is gone.";
    case "BAD_USER_INPUT": return problem.message;
    case "UNAUTHENTICATED": return "Your sign-in expired or is not valid: sign in again.";
    case "UNAVAILABLE": return "The game is having trouble; try again in a moment.";
    case "OFFLINE": return "You are offline, or the server is down.";
    default: return `Something went wrong (${problem.code}).`;
  }
}
