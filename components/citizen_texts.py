"""Texts of the citizen's sign-in by phone (/me/login), zh-CN first and English second."""

from __future__ import annotations

from components.texts import register

register(
    {
        'citizen.login.title': ('手机号登录', 'Sign in with your phone'),
        'citizen.login.why': (
            '登录后可预约、线上取号、查看我的办件。首次登录将自动创建账号。',
            'Sign in to book, take a number remotely and see your matters. The first sign-in creates your account.',
        ),
        'citizen.login.phone': ('手机号', 'Mobile number'),
        'citizen.login.send': ('获取验证码', 'Get a code'),
        'citizen.login.resend_in': ('{n}秒后可重新获取', 'new code in {n} s'),
        'citizen.login.sent': (
            '验证码已发送至 {phone}，{minutes}分钟内有效',
            'code sent to {phone}, good for {minutes} min',
        ),
        'citizen.login.code': ('6位验证码', '6-digit code'),
        'citizen.login.submit': ('登录', 'Sign in'),
        'citizen.login.expired': ('登录已失效，请重新登录', 'Your sign-in has ended; please sign in again'),
        'citizen.login.logged_out': ('您已退出登录', 'You have signed out'),
        'citizen.login.staff': ('工作人员请由此登录', 'Staff sign in here'),
    }
)
