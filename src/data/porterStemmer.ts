/**
 * The Porter stemmer as NLTK's `PorterStemmer()` runs it by default (mode NLTK_EXTENSIONS), which
 * is the stemmer `rouge_score` uses for `use_stemmer=True`. NLTK's extensions to Porter (1980):
 * a pool of irregular forms, words of 1-2 letters left alone, `ies`/`ied` on 4-letter words kept
 * as `ie`, `y -> i` only after a consonant that is not the first letter, the `alli`, `fulli` and
 * `logi` rules of step 2, `bli -> ble` (Porter's published errata) and the 2-letter cvc form.
 * Checked word by word against NLTK 3.10 (test/data/rouge.test.ts).
 */

const IRREGULAR: Record<string, string[]> = {
  sky: ['sky', 'skies'],
  die: ['dying'],
  lie: ['lying'],
  tie: ['tying'],
  news: ['news'],
  inning: ['innings', 'inning'],
  outing: ['outings', 'outing'],
  canning: ['cannings', 'canning'],
  howe: ['howe'],
  proceed: ['proceed'],
  exceed: ['exceed'],
  succeed: ['succeed'],
};
const POOL = new Map<string, string>();
for (const [key, forms] of Object.entries(IRREGULAR)) for (const f of forms) POOL.set(f, key);

const isVowel = (ch: string): boolean => ch === 'a' || ch === 'e' || ch === 'i' || ch === 'o' || ch === 'u';

/** Consonant flag of each letter: `y` is a consonant at the start or after a vowel. */
function consonantFlags(word: string): boolean[] {
  const flags: boolean[] = [];
  for (let i = 0; i < word.length; i++) {
    const ch = word[i] as string;
    if (isVowel(ch)) flags.push(false);
    else if (ch === 'y') flags.push(i === 0 ? true : !flags[i - 1]);
    else flags.push(true);
  }
  return flags;
}

const isConsonant = (word: string, i: number): boolean => consonantFlags(word.slice(0, i + 1))[i] as boolean;

/** m in [C](VC)^m[V]: the number of vowel-to-consonant transitions. */
function measure(stem: string): number {
  const f = consonantFlags(stem);
  let m = 0;
  for (let i = 1; i < f.length; i++) if (!f[i - 1] && f[i]) m++;
  return m;
}

const positiveMeasure = (stem: string): boolean => measure(stem) > 0;
const containsVowel = (stem: string): boolean => consonantFlags(stem).some((c) => !c);

const endsDoubleConsonant = (w: string): boolean =>
  w.length >= 2 && w[w.length - 1] === w[w.length - 2] && isConsonant(w, w.length - 1);

function endsCvc(w: string): boolean {
  const n = w.length;
  if (n >= 3) {
    const f = consonantFlags(w);
    if (f[n - 3] && !f[n - 2] && f[n - 1] && !'wxy'.includes(w[n - 1] as string)) return true;
  }
  // NLTK extension: a 2-letter word vowel + consonant counts as cvc.
  return n === 2 && !isConsonant(w, 0) && isConsonant(w, 1);
}

type Rule = [suffix: string, replacement: string, condition: ((stem: string) => boolean) | null];

/**
 * The first rule whose suffix matches decides: its replacement if the condition holds on the
 * stem, the word unchanged otherwise. `*d` stands for a double consonant (the stem drops both).
 */
function applyRules(word: string, rules: Rule[]): string {
  for (const [suffix, replacement, condition] of rules) {
    if (suffix === '*d' && endsDoubleConsonant(word)) {
      const stem = word.slice(0, -2);
      return condition === null || condition(stem) ? stem + replacement : word;
    }
    if (word.endsWith(suffix)) {
      const stem = word.slice(0, word.length - suffix.length);
      return condition === null || condition(stem) ? stem + replacement : word;
    }
  }
  return word;
}

function step1a(w: string): string {
  if (w.endsWith('ies') && w.length === 4) return w.slice(0, -3) + 'ie';
  return applyRules(w, [
    ['sses', 'ss', null],
    ['ies', 'i', null],
    ['ss', 'ss', null],
    ['s', '', null],
  ]);
}

function step1b(w: string): string {
  if (w.endsWith('ied')) return w.length === 4 ? w.slice(0, -3) + 'ie' : w.slice(0, -3) + 'i';
  if (w.endsWith('eed')) {
    const stem = w.slice(0, -3);
    return measure(stem) > 0 ? stem + 'ee' : w;
  }
  let inter: string | null = null;
  for (const suffix of ['ed', 'ing']) {
    if (w.endsWith(suffix)) {
      const s = w.slice(0, w.length - suffix.length);
      if (containsVowel(s)) {
        inter = s;
        break;
      }
    }
  }
  if (inter === null) return w;
  const last = inter[inter.length - 1] as string;
  return applyRules(inter, [
    ['at', 'ate', null],
    ['bl', 'ble', null],
    ['iz', 'ize', null],
    ['*d', last, () => !'lsz'.includes(last)],
    ['', 'e', (stem) => measure(stem) === 1 && endsCvc(stem)],
  ]);
}

const step1c = (w: string): string =>
  applyRules(w, [['y', 'i', (stem) => stem.length > 1 && isConsonant(stem, stem.length - 1)]]);

function step2(w: string): string {
  if (w.endsWith('alli') && positiveMeasure(w.slice(0, -4))) return step2(w.slice(0, -4) + 'al');
  const p = positiveMeasure;
  return applyRules(w, [
    ['ational', 'ate', p],
    ['tional', 'tion', p],
    ['enci', 'ence', p],
    ['anci', 'ance', p],
    ['izer', 'ize', p],
    ['bli', 'ble', p],
    ['alli', 'al', p],
    ['entli', 'ent', p],
    ['eli', 'e', p],
    ['ousli', 'ous', p],
    ['ization', 'ize', p],
    ['ation', 'ate', p],
    ['ator', 'ate', p],
    ['alism', 'al', p],
    ['iveness', 'ive', p],
    ['fulness', 'ful', p],
    ['ousness', 'ous', p],
    ['aliti', 'al', p],
    ['iviti', 'ive', p],
    ['biliti', 'ble', p],
    ['fulli', 'ful', p],
    // NLTK tests the measure of the word less `ogi`, not of the stem less `logi`.
    ['logi', 'log', () => p(w.slice(0, -3))],
  ]);
}

const step3 = (w: string): string =>
  applyRules(w, [
    ['icate', 'ic', positiveMeasure],
    ['ative', '', positiveMeasure],
    ['alize', 'al', positiveMeasure],
    ['iciti', 'ic', positiveMeasure],
    ['ical', 'ic', positiveMeasure],
    ['ful', '', positiveMeasure],
    ['ness', '', positiveMeasure],
  ]);

function step4(w: string): string {
  const gt1 = (stem: string): boolean => measure(stem) > 1;
  return applyRules(w, [
    ['al', '', gt1],
    ['ance', '', gt1],
    ['ence', '', gt1],
    ['er', '', gt1],
    ['ic', '', gt1],
    ['able', '', gt1],
    ['ible', '', gt1],
    ['ant', '', gt1],
    ['ement', '', gt1],
    ['ment', '', gt1],
    ['ent', '', gt1],
    ['ion', '', (stem) => gt1(stem) && (stem.endsWith('s') || stem.endsWith('t'))],
    ['ou', '', gt1],
    ['ism', '', gt1],
    ['ate', '', gt1],
    ['iti', '', gt1],
    ['ous', '', gt1],
    ['ive', '', gt1],
    ['ize', '', gt1],
  ]);
}

function step5a(w: string): string {
  if (!w.endsWith('e')) return w;
  const stem = w.slice(0, -1);
  const m = measure(stem);
  return m > 1 || (m === 1 && !endsCvc(stem)) ? stem : w;
}

const step5b = (w: string): string => applyRules(w, [['ll', 'l', () => measure(w.slice(0, -1)) > 1]]);

/** NLTK's `PorterStemmer().stem(word)` (lowercases first, as NLTK does by default). */
export function porterStem(word: string): string {
  const lower = word.toLowerCase();
  const irregular = POOL.get(lower);
  if (irregular !== undefined) return irregular;
  if (word.length <= 2) return lower;
  return step5b(step5a(step4(step3(step2(step1c(step1b(step1a(lower))))))));
}
