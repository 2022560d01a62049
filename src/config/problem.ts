/** A setting that is missing or wrong: named by its variable, never by its value (it may be a secret). */
export interface ConfigProblem {
  variable: string;
  message: string;
}
