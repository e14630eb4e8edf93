// tests/browser/flow_pages.mjs: every page the console's header links to, for a person and for
// an admin, at desktop and at phone width: it answers 200 with its title, names who is signed
// in, raises no console error, shows no HTML markup as text, and a phone-width screen needs no
// sideways scrolling of the page (wide tables scroll inside their own box). The admin pages are
// not in a non-admin's header. A screenshot of each page at desktop width.
import {
	URL_, PHONE, check, eq, h1, newBrowser, noErrors, noMarkupAsText, run, shot, signIn, step, who,
} from './lib.mjs';

const PEOPLE = [
	{ login: 'bob.brown@acme.example', admin: false },
	{ login: 'victor.vega@acme.example', admin: true },
];
const ADMIN_ONLY = ['/console/sync', '/console/audit', '/console/gitlab', '/console/slack'];

await run(async (browser) => {
	for (const { login, admin } of PEOPLE) {
		step(`${login}${admin ? ' (admin)' : ''}`);
		const ctx = await newBrowser(browser);
		const page = await ctx.newPage();
		await signIn(page, login);
		const links = await page.locator('header a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent.trim()]));
		const paths = [...new Set(links.map(([h]) => h).filter((h) => h && h.startsWith('/console/')))];
		check(`${login}: the header links to the pages`, paths.length >= 2, JSON.stringify(links));
		for (const p of ADMIN_ONLY) {
			if (!admin) check(`${login}: no link to the admin page ${p}`, !paths.includes(p));
		}
		const phone = await ctx.newPage();
		await phone.setViewportSize(PHONE);
		for (const p of paths) {
			step(p);
			const r = await page.goto(URL_ + p);
			eq(`${p}: 200`, r.status(), 200);
			const title = await h1(page);
			check(`${p}: a title`, title.length > 0);
			check(`${p}: says who is signed in`, (await who(page)).includes(login));
			await shot(page, `${admin ? 'admin' : 'person'}-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`);
			await phone.goto(URL_ + p);
			const over = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
			check(`${p}: fits a phone-width screen`, over <= 0, `${over}px wider than the screen`);
			await noMarkupAsText(phone, `${p} on a phone`);
		}
		noErrors(`${login}: no console errors on any page`, ctx);
		await ctx.close();
	}
});
