// A command's result on stdout: JSON for scripts, or the text for a person.
export function print(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}
